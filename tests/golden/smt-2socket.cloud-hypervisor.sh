cloud-hypervisor \
    --cpus boot=8,topology=2:2:1:2 \
    --memory size=0 \
    --memory-zone id=mem0,size=3G \
    --memory-zone id=mem1,size=1G \
    --numa 'guest_numa_id=0,cpus=[0-3],distances=[1@21],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,cpus=[4-7],distances=[0@21],memory_zones=[mem1]'
