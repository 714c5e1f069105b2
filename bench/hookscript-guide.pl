#!/usr/bin/perl
# A guest hookscript in the shape of Proxmox VE's example hookscript (print
# the phase, one branch per phase, die on an unknown one) doing the GPU
# passthrough guide's steps for the seed's gaming VM on the 7970X with
# system() calls to the usual tools. Written for bench/run_peers.sh from the
# guide's steps; it is what pvepin is compared with, not something to use.
# $ENV{ROOT} prefixes every host path so it can run against a fake host tree.

use strict;
use warnings;

print "GUEST HOOK: " . join(' ', @ARGV) . "\n";

my $vmid = shift;
my $phase = shift;
my $root = $ENV{ROOT} // '';

# Filled in by hand for this host and VM.
my @devices = ('0000:81:00.0', '0000:81:00.1', '0000:4b:00.0');
my @vcpu_cpus = (0 .. 15);
my $emu_cpus = '32-47';
my $host_cpus = '16-31,48-63';
my $all_cpus = '0-63';
my %hugepages = (0 => 24, 3 => 24);
my @slices = ('system.slice', 'user.slice', 'init.scope');

if ($phase eq 'pre-start') {
    print "$vmid is starting, doing preparations.\n";

    foreach my $dev (@devices) {
        system("echo vfio-pci > $root/sys/bus/pci/devices/$dev/driver_override");
        if (-e "$root/sys/bus/pci/devices/$dev/driver") {
            system("echo $dev > $root/sys/bus/pci/devices/$dev/driver/unbind");
        }
        system("echo $dev > $root/sys/bus/pci/drivers_probe");
    }

    system("sync");
    system("echo 3 > $root/proc/sys/vm/drop_caches");
    system("echo 1 > $root/proc/sys/vm/compact_memory");
    foreach my $node (sort keys %hugepages) {
        system("echo $hugepages{$node} > $root/sys/devices/system/node/node$node/hugepages/hugepages-1048576kB/nr_hugepages");
    }

    foreach my $slice (@slices) {
        system("echo $host_cpus > $root/sys/fs/cgroup/$slice/cpuset.cpus");
    }
    system("for g in $root/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo performance > \$g; done");

} elsif ($phase eq 'post-start') {
    print "$vmid started successfully.\n";

    my $pid = `cat $root/run/qemu-server/$vmid.pid`;
    chomp $pid;
    system("taskset -a -cp $emu_cpus $pid > /dev/null");
    foreach my $line (`ps -T -o spid=,comm= -p $pid`) {
        if ($line =~ m/^\s*(\d+)\s+CPU (\d+)\/KVM/) {
            system("taskset -cp $vcpu_cpus[$2] $1 > /dev/null");
        }
    }
    foreach my $irq (`grep vfio $root/proc/interrupts | cut -d: -f1`) {
        $irq =~ s/\s+//g;
        system("echo $emu_cpus > $root/proc/irq/$irq/smp_affinity_list");
    }

} elsif ($phase eq 'pre-stop') {
    print "$vmid will be stopped.\n";

} elsif ($phase eq 'post-stop') {
    print "$vmid stopped. Doing cleanup.\n";

    foreach my $slice (@slices) {
        system("echo $all_cpus > $root/sys/fs/cgroup/$slice/cpuset.cpus");
    }
    system("for g in $root/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do echo schedutil > \$g; done");
    foreach my $node (sort keys %hugepages) {
        system("echo 0 > $root/sys/devices/system/node/node$node/hugepages/hugepages-1048576kB/nr_hugepages");
    }
    foreach my $dev (@devices) {
        system("echo > $root/sys/bus/pci/devices/$dev/driver_override");
        system("echo $dev > $root/sys/bus/pci/drivers/vfio-pci/unbind");
        system("echo $dev > $root/sys/bus/pci/drivers_probe");
    }

} else {
    die "got unknown phase '$phase'\n";
}

exit(0);
