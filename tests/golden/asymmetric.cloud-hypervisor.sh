cloud-hypervisor \
    --cpus boot=4,topology=1:2:1:2 \
    --memory size=0 \
    --memory-zone id=mem0,size=512M \
    --memory-zone id=mem1,size=512M \
    --numa 'guest_numa_id=0,cpus=[0-1],distances=[1@20],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,cpus=[2-3],distances=[0@30],memory_zones=[mem1]'
