# Reconstructed from the seed article's description (not copied from it): 16 vCPUs and
# 2 GiB in 4 NUMA nodes of 4 vCPUs, nodes 0-1 and 2-3 at distance 15, the rest at 20,
# and no memory given to any node. QEMU 7.2 refuses it with
# "total memory for NUMA nodes (0x0) should equal RAM size (0x80000000)".
qemu-system-aarch64 -machine virt -cpu cortex-a57 -smp cpus=16 -m 2G \
  -numa node,cpus=0-3,nodeid=0 -numa node,cpus=4-7,nodeid=1 \
  -numa node,cpus=8-11,nodeid=2 -numa node,cpus=12-15,nodeid=3 \
  -numa dist,src=0,dst=1,val=15 -numa dist,src=0,dst=2,val=20 \
  -numa dist,src=0,dst=3,val=20 -numa dist,src=1,dst=2,val=20 \
  -numa dist,src=1,dst=3,val=20 -numa dist,src=2,dst=3,val=15
