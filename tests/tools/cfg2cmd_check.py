#!/usr/bin/env python3
"""Compare what `pvepin plan --json` read from a qemu-server test config
with the QEMU command qemu-server made of it (its .conf.cmd).

usage: cfg2cmd_check.py PLAN.json CONF.cmd
Prints one line per difference; exit 0 when pvepin read it as PVE does.
"""
import json, re, shlex, sys

def cpuset(s):
    out = set()
    for part in s.replace(';', ',').split(','):
        if not part:
            continue
        a, _, b = part.partition('-')
        out.update(range(int(a), int(b or a) + 1))
    return out

def parse_cmd(text):
    words = shlex.split(text.replace('\\\n', ' '))
    opts = [(words[i], words[i + 1]) for i in range(len(words) - 1) if words[i].startswith('-')]
    r = {'vcpus': None, 'memory': None, 'numa': {}, 'objects': {}, 'hosts': [], 'mdev': 0, 'hp': set()}
    for k, v in opts:
        if k == '-smp':
            r['vcpus'] = int(v.split(',')[0])
        elif k == '-m':
            m = re.match(r'(?:size=)?(\d+)', v)
            r['memory'] = int(m.group(1))
        elif k == '-numa' and v.startswith('node,'):
            d = dict(kv.split('=', 1) for kv in v.split(',')[1:] if '=' in kv)
            cpus = set()
            for m in re.finditer(r'cpus=([0-9-]+)', v):
                cpus |= cpuset(m.group(1))
            r['numa'][int(d['nodeid'])] = {'cpus': cpus, 'memdev': d.get('memdev')}
        elif k == '-object' and v.startswith('memory-backend'):
            d = dict(kv.split('=', 1) for kv in v.split(',')[1:] if '=' in kv)
            r['objects'][d['id']] = d
            m = re.search(r'mem-path=/run/hugepages/kvm/(\d+)kB', v)
            if m:
                r['hp'].add(int(m.group(1)))
        elif k == '-device' and v.startswith('vfio-pci'):
            m = re.search(r'host=([0-9a-fA-F:.]+)', v)
            if m:
                h = m.group(1).lower()
                r['hosts'].append(h if h.count(':') == 2 else '0000:' + h)
            elif 'sysfsdev=/sys/bus/mdev' in v:
                r['mdev'] += 1
    return r

def main():
    plan = json.load(open(sys.argv[1]))
    cmd = parse_cmd(open(sys.argv[2]).read())
    c = plan['config']
    bad = []
    if c['template']:
        # config_to_command minimizes a template: no devices, NUMA or hugepages
        if plan['devices'] or plan['actions']:
            bad.append('template: pvepin plans devices or actions')
        if cmd['hosts'] or cmd['numa']:
            bad.append('template: the .cmd has devices or NUMA (the checker is wrong)')
        return report(bad)
    if cmd['vcpus'] is not None and c['vcpus'] != cmd['vcpus']:
        bad.append('vCPUs: pvepin %d, PVE %d' % (c['vcpus'], cmd['vcpus']))
    if not c['hotplug_memory'] and cmd['memory'] is not None and c['memory'] != cmd['memory']:
        bad.append('memory: pvepin %d, PVE %d' % (c['memory'], cmd['memory']))
    gn = c['guest_numa']
    if len(gn) != len(cmd['numa']):
        bad.append('guest NUMA nodes: pvepin %d, PVE %d' % (len(gn), len(cmd['numa'])))
    for i, g in enumerate(gn):
        q = cmd['numa'].get(i)
        if not q:
            continue
        if cpuset(g['cpus']) != q['cpus']:
            bad.append('guest node %d cpus: pvepin %s, PVE %s' % (i, g['cpus'], sorted(q['cpus'])))
        obj = cmd['objects'].get(q['memdev'], {})
        size = int(obj.get('size', '0M').rstrip('M'))
        if size and g['memory'] != size:
            bad.append('guest node %d memory: pvepin %d, PVE %d' % (i, g['memory'], size))
        hn = obj.get('host-nodes')
        if hn is not None and cpuset(g['hostnodes']) != cpuset(hn):
            bad.append('guest node %d host-nodes: pvepin %s, PVE %s' % (i, g['hostnodes'], hn))
        if hn is None and g['hostnodes'] and not g['from_socket']:
            bad.append('guest node %d: pvepin binds to %s, PVE does not bind' % (i, g['hostnodes']))
        if obj.get('policy') and g['policy'] != obj['policy']:
            bad.append('guest node %d policy: pvepin %s, PVE %s' % (i, g['policy'], obj['policy']))
    hp = plan['memory']['hugepage_size_kb']
    if cmd['hp'] and {hp} != cmd['hp']:
        bad.append('hugepage size: pvepin %d kB, PVE %s' % (hp, sorted(cmd['hp'])))
    if not cmd['hp'] and hp and not c['hotplug_memory']:
        bad.append('hugepages: pvepin %d kB, PVE none' % hp)
    mine = sorted(d['bdf'] for d in plan['devices'] if d['listed'] and d['treatment'] != 'mdev')
    pve = sorted(cmd['hosts'])
    # a slot written without a function: PVE lists its functions, an XML
    # topology may not; compare by slot then
    if mine != pve and sorted({b[:10] for b in mine}) != sorted({b[:10] for b in pve}):
        bad.append('devices: pvepin %s, PVE %s' % (mine, pve))
    nm = sum(1 for d in plan['devices'] if d['treatment'] == 'mdev')
    if nm != cmd['mdev']:
        bad.append('mediated devices: pvepin %d, PVE %d' % (nm, cmd['mdev']))
    return report(bad)

def report(bad):
    for b in bad:
        print(b)
    return 1 if bad else 0

if __name__ == '__main__':
    sys.exit(main())
