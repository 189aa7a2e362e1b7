cloud-hypervisor \
    --cpus boot=6,topology=1:2:1:3 \
    --memory size=0 \
    --memory-zone id=mem0,size=512M \
    --memory-zone id=mem1,size=512M \
    --numa 'guest_numa_id=0,cpus=[0-1],distances=[1@20,2@20],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,cpus=[2-3],distances=[0@20,2@20],memory_zones=[mem1]' \
    --numa 'guest_numa_id=2,cpus=[4-5],distances=[0@20,1@20]'
