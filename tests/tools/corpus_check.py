#!/usr/bin/env python3
"""Every topology of hwloc's own test corpus (tests/fixtures/hwloc-corpus.tar.xz,
hwloc's tests/hwloc/xml of every release from 1.11.13 on, and its format-3.0
files re-exported in format 2 as NAME.v3tov2.xml; SOURCES inside names each
file's release and path, and how a re-export was made) and the damaged files of
tests/fixtures/damaged, through pvepin and the independent plan checker.

usage: corpus_check.py PVEPIN CORPUS.tar.xz DAMAGED_DIR WORKDIR

For each topology: `topo --json` either works or is refused in one line
(no signal, no sanitizer report); then a VM of a few vCPUs in gaming mode
(beside the first GPU, when the host has one), in workstation mode, and
with 2 MiB hugepages and numa: 1 (PVE's own hugepage topology): each plan
either passes plancheck.check() or is a refusal of one line. A damaged file
must be refused in one line. Prints one TAP line per check and a summary
with how many plans were checked and how many refused.
"""
import json, os, subprocess, sys, tarfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plancheck

class Opts:
    def __init__(self, **kw):
        self.mode, self.gpu, self.vcpus, self.max_l3 = 'gaming', None, None, 2
        self.prefer = self.expect_pus = self.expect_pages = self.mem_mib = self.within = None
        self.__dict__.update(kw)

n_ok = n_bad = n_plans = n_refused = 0

def tap(ok, name):
    global n_ok, n_bad
    if ok: n_ok += 1
    else: n_bad += 1
    print(('ok ' if ok else 'not ok ') + name)

def run(pv, *args, env=None):
    r = subprocess.run([pv, *args], capture_output=True, text=True, timeout=60, env=env)
    return r.returncode, r.stdout, r.stderr

def one_line_refusal(rc, err):
    """A refusal users can act on: exit 1, one line naming pvepin, no
    signal, no sanitizer or hwloc noise."""
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith('pvepin: warning:')]
    return rc == 1 and len(lines) == 1 and lines[0].startswith('pvepin') and 'Sanitizer' not in err

def plan_one(pv, work, xml, name, conf, policy, opts):
    global n_plans, n_refused
    cf, pf = os.path.join(work, 'vm.conf'), os.path.join(work, 'vm.ini')
    open(cf, 'w').write(conf)
    open(pf, 'w').write(policy)
    rc, out, err = run(pv, '--topology', xml, '--conf', cf, '--policy', pf, 'plan', '100', '--json')
    if rc != 0:
        n_refused += 1
        tap(one_line_refusal(rc, err), f'{name}: refused in one line: {err.strip()[:200]}')
        return
    n_plans += 1
    try:
        bad = plancheck.check(plancheck.Topo(xml), json.loads(out), opts)
    except Exception as ex:  # the checker's own limits are its bugs
        bad = [f'checker failed: {ex!r}']
    tap(not bad, f'{name}: plancheck' + ('' if not bad else ': ' + '; '.join(bad)[:300]))

def host(pv, work, xml, name):
    rc, out, err = run(pv, '--topology', xml, 'topo', '--json')
    if rc != 0:
        tap(one_line_refusal(rc, err), f'{name}: topo refused in one line: {err.strip()[:200]}')
        return
    tap('Sanitizer' not in err, f'{name}: topo --json')
    t = json.loads(out)
    cores = [c for c in t['cores'] if c.get('node', -1) >= 0 or not t['nodes']]
    smt = any(len(c['pus']) > 1 for c in cores)
    v = max(1, min(8, len(cores) // 2))
    gpu = next((p['bdf'] for p in t.get('pci', []) if p.get('class', '').startswith('0x03')), None)
    base = f'cores: {v}\nmemory: 2048\n'
    nores = '[host]\nreserve_cores = 0\n'
    plan_one(pv, work, xml, f'{name} gaming {v} vCPUs' + (f' beside {gpu}' if gpu else ''),
             base + (f'hostpci0: {gpu}\n' if gpu else ''), '[vm]\nmode = gaming\n' + nores,
             Opts(mode='gaming', vcpus=v, gpu=gpu))
    # without SMT there are no sibling pairs: the gaming invariants apply
    plan_one(pv, work, xml, f'{name} workstation {v} vCPUs', base, '[vm]\nmode = workstation\n' + nores,
             Opts(mode='workstation' if smt else 'gaming', vcpus=v, max_l3=10**6))
    plan_one(pv, work, xml, f'{name} 2 MiB hugepages, numa: 1', base + 'hugepages: 2\nnuma: 1\n',
             '[vm]\nmode = gaming\n' + nores, Opts(mode='gaming', vcpus=v, mem_mib=2048))
    # the default policy, host reserve included: a plan or a one-line refusal
    plan_one(pv, work, xml, f'{name} default policy', base, '', Opts(mode='none', vcpus=v))

def main():
    pv, corpus, damaged, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    with tarfile.open(corpus) as tf:
        tf.extractall(work)
    root = os.path.join(work, 'hwloc-corpus')
    names = sorted(f for f in os.listdir(root) if f.endswith('.xml'))
    tap(len(names) >= 100, f'the corpus holds {len(names)} topologies')
    # hwloc 2.x cannot read format 3.0: each such file is also there
    # re-exported in format 2, or its topology would never be planned
    for f in names:
        with open(os.path.join(root, f)) as fh:
            v3 = '<topology version="3.' in fh.read(4096)
        if v3:
            tap(f[:-4] + '.v3tov2.xml' in names, f'{f} (format 3.0) is also there in format 2')
    for f in names:
        host(pv, work, os.path.join(root, f), f)
    for f in sorted(os.listdir(damaged)):
        if not f.endswith('.xml'): continue
        # hwloc 2.9's XML importer leaks the object it was reading when the
        # file ends inside it (the leak is in hwloc_alloc_setup_object,
        # pvepin destroys the topology): under ASan, leaks are not what
        # this checks for damaged files
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = (env.get('ASAN_OPTIONS', '') + ':detect_leaks=0').lstrip(':')
        rc, out, err = run(pv, '--topology', os.path.join(damaged, f), 'topo', env=env)
        tap(one_line_refusal(rc, err), f'damaged {f}: refused in one line: {err.strip()[:200]}')
    print(f'# {len(names)} topologies, {n_plans} plans checked, {n_refused} refused in one line')
    print(f'corpus: {n_ok} passed, {n_bad} failed')
    return 1 if n_bad else 0

if __name__ == '__main__':
    sys.exit(main())
