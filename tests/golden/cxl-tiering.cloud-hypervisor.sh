taskset --cpu-list 0,64 cloud-hypervisor \
    --cpus 'boot=16,topology=2:8:1:1,affinity=[0@[1],1@[65],2@[2],3@[66],4@[3],5@[67],6@[4],7@[68],8@[5],9@[69],10@[6],11@[70],12@[7],13@[71],14@[8],15@[72]]' \
    --memory size=0 \
    --memory-zone id=mem0,size=64G,host_numa_node=0 \
    --memory-zone id=mem1,size=96G,host_numa_node=2 \
    --numa 'guest_numa_id=0,cpus=[0-15],distances=[1@14],memory_zones=[mem0]' \
    --numa 'guest_numa_id=1,distances=[0@14],memory_zones=[mem1]'
