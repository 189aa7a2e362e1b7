cloud-hypervisor \
    --cpus boot=16,topology=1:2:1:8 \
    --memory size=0 \
    --memory-zone id=mem0,size=512M \
    --memory-zone id=mem1,size=512M \
    --numa 'guest_numa_id=0,cpus=[0-5],distances=[1@16],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,cpus=[6-15],distances=[0@16],memory_zones=[mem1]'
