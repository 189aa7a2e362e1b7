cloud-hypervisor \
    --cpus 'boot=12,topology=1:4:1:3,affinity=[0@[0],1@[1],2@[2],3@[3],4@[4],5@[5],6@[6],7@[7],8@[16],9@[17],10@[18],11@[19]]' \
    --memory size=0 \
    --memory-zone id=mem0,size=10G,hugepages=on,hugepage_size=1G,shared=on,host_numa_node=0 \
    --memory-zone id=mem1,size=4G,hugepages=on,hugepage_size=1G,shared=on,host_numa_node=1 \
    --numa 'guest_numa_id=0,cpus=[0-7],distances=[1@21],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,cpus=[8-11],distances=[0@21],memory_zones=[mem1]'
