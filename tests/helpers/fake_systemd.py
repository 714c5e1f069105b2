#!/usr/bin/python3
"""A stand-in for systemd on a private D-Bus bus: the part of
org.freedesktop.systemd1 that pvepin's systemd cpuset backend uses.

  Manager.SetUnitProperties(s unit, b runtime, a(sv) props)
      AllowedCPUs only (a variant holding "ay": bit cpu%8 of byte cpu/8).
      Stored, answered, then applied from the main loop --delay ms later
      by writing the CPU list to <cgroot>/<cgroup>/cpuset.cpus, as systemd
      does after it replied.
  Manager.StartUnit(s unit, s mode) -> o job
      A known unit, or any new slice (nested as systemd nests "a-b.slice"
      in "a.slice"): its cgroup directory appears --delay ms later.
  Manager.StartTransientUnit(s name, s mode, a(sv) props, a(sa(sv)) aux)
      -> o job
      A scope (Description, Slice, PIDs, CollectMode, MemoryMax, TasksMax,
      CPUQuotaPerSecUSec only): its cgroup
      <slice>/<name> appears --delay ms later with the PIDs in its
      cgroup.procs; a name already loaded is systemd's UnitExists.
  org.freedesktop.DBus.Properties.Get(s iface, s prop) -> v
      AllowedCPUs on /org/freedesktop/systemd1/unit/<sd_bus_path_encode'd
      name>; the interface must be the unit type's (Slice/Scope/Service).

An unknown unit gives systemd's own errors (org.freedesktop.systemd1.
NoSuchUnit "Unit X not loaded."); a --lazy unit takes AllowedCPUs and
never applies it. Each call is logged to --log, one line, for the test
to check what went over the wire. Strict on signatures: a call whose
arguments are not what systemd expects is refused with InvalidArgs.
"""
import argparse
import os
import signal
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

SD = "org.freedesktop.systemd1"
MANAGER = SD + ".Manager"
UNIT_PREFIX = "/org/freedesktop/systemd1/unit"
IFACES = {".slice": SD + ".Slice", ".scope": SD + ".Scope", ".service": SD + ".Service"}


class Error(dbus.DBusException):
    def __init__(self, name, msg):
        super().__init__(msg, name=name)


def label_escape(s):
    """systemd's bus_label_escape (sd_bus_path_encode's last component):
    all but [A-Za-z0-9] as _xx (lower-case hex), a leading digit too."""
    if not s:
        return "_"
    out = []
    for i, ch in enumerate(s.encode()):
        c = chr(ch)
        if c.isascii() and (c.isalpha() or (i > 0 and c.isdigit())):
            out.append(c)
        else:
            out.append("_%02x" % ch)
    return "".join(out)


def mask_to_list(mask):
    cpus = [i * 8 + b for i, byte in enumerate(mask) for b in range(8) if byte & (1 << b)]
    runs = []
    for c in cpus:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs)


def unit_type(name):
    return next((t for t in IFACES if name.endswith(t)), None)


def slice_cgroup(name):
    """systemd's cgroup of a slice: "a-b.slice" lives in "a.slice"."""
    stem = name[: -len(".slice")]
    parts = stem.split("-")
    return "/".join("-".join(parts[: i + 1]) + ".slice" for i in range(len(parts)))


class Systemd:
    def __init__(self, args):
        self.cgroot = args.cgroot
        self.delay = args.delay
        self.lazy = set(args.lazy)
        self.units = {}  # name -> {"cgroup": path, "allowed": bytes}
        for name, cg in args.unit:
            self.add(name, cg)
        for name, hexmask in args.allowed:
            self.units[name]["allowed"] = bytes.fromhex(hexmask)
        self.log = open(args.log, "a", buffering=1)
        self.jobs = 0

    def add(self, name, cg):
        self.units[name] = {"cgroup": cg, "allowed": b""}

    def note(self, line):
        self.log.write(line + "\n")

    def unit(self, name):
        if name not in self.units:
            raise Error(SD + ".NoSuchUnit", "Unit %s not loaded." % name)
        return self.units[name]

    def later(self, fn):
        GLib.timeout_add(self.delay, lambda: fn() and False)

    def write_cpus(self, name):
        u = self.units[name]
        d = os.path.join(self.cgroot, u["cgroup"])
        with open(os.path.join(d, "cpuset.cpus"), "w") as f:
            f.write(mask_to_list(u["allowed"]) + "\n")
        self.note("applied %s cpuset.cpus=%s" % (name, mask_to_list(u["allowed"])))

    def make_cgroup(self, name):
        d = os.path.join(self.cgroot, self.units[name]["cgroup"])
        os.makedirs(d, exist_ok=True)
        for f, v in (("cgroup.controllers", "cpuset cpu"), ("cpuset.cpus", "")):
            if not os.path.exists(os.path.join(d, f)):
                with open(os.path.join(d, f), "w") as fh:
                    fh.write(v + "\n")
        self.note("created %s" % d)


class Manager(dbus.service.Object):
    def __init__(self, bus, sd):
        super().__init__(bus, "/org/freedesktop/systemd1")
        self.sd = sd

    @dbus.service.method(MANAGER, in_signature="sba(sv)", out_signature="",
                         byte_arrays=True, message_keyword="msg")
    def SetUnitProperties(self, name, runtime, props, msg):
        if msg.get_signature() != "sba(sv)":
            raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                        "SetUnitProperties wants sba(sv), got %s" % msg.get_signature())
        u = self.sd.unit(name)
        new = None
        for key, val in props:
            if key != "AllowedCPUs":
                raise Error("org.freedesktop.DBus.Error.PropertyReadOnly",
                            "Cannot set property %s, or unknown property." % key)
            if not isinstance(val, dbus.ByteArray):
                raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                            "AllowedCPUs wants a variant of ay, got %r" % type(val))
            new = bytes(val)
        self.sd.note("SetUnitProperties %s runtime=%d AllowedCPUs=%s"
                     % (name, bool(runtime), new.hex() if new is not None else "-"))
        if new is None:
            return
        u["allowed"] = new
        if name not in self.sd.lazy:
            self.sd.later(lambda: self.sd.write_cpus(name))

    @dbus.service.method(MANAGER, in_signature="ss", out_signature="o", message_keyword="msg")
    def StartUnit(self, name, mode, msg):
        if msg.get_signature() != "ss":
            raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                        "StartUnit wants ss, got %s" % msg.get_signature())
        if mode not in ("replace", "fail", "isolate", "ignore-dependencies",
                        "ignore-requirements"):
            raise Error("org.freedesktop.DBus.Error.InvalidArgs", "Job mode %s invalid." % mode)
        if name not in self.sd.units:
            if unit_type(name) != ".slice":
                raise Error(SD + ".NoSuchUnit", "Unit %s not found." % name)
            self.sd.add(name, slice_cgroup(name))
        self.sd.jobs += 1
        self.sd.note("StartUnit %s %s" % (name, mode))
        self.sd.later(lambda: self.sd.make_cgroup(name))
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.sd.jobs)


    @dbus.service.method(MANAGER, in_signature="ssa(sv)a(sa(sv))", out_signature="o",
                         message_keyword="msg")
    def StartTransientUnit(self, name, mode, props, aux, msg):
        if msg.get_signature() != "ssa(sv)a(sa(sv))":
            raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                        "StartTransientUnit wants ssa(sv)a(sa(sv)), got %s" % msg.get_signature())
        if unit_type(name) != ".scope":
            raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                        "Unit %s is not a scope: this fake makes scopes only." % name)
        if name in self.sd.units:
            raise Error(SD + ".UnitExists", "Unit %s already exists." % name)
        got = {}
        for key, val in props:
            if key in ("Description", "Slice", "CollectMode"):
                if not isinstance(val, dbus.String):
                    raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                                "%s wants a string, got %r" % (key, type(val)))
                got[key] = str(val)
            elif key in ("MemoryMax", "TasksMax", "CPUQuotaPerSecUSec"):
                if not isinstance(val, dbus.UInt64):
                    raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                                "%s wants t (uint64), got %r" % (key, type(val)))
                got[key] = str(int(val))
            elif key == "PIDs":
                if getattr(val, "signature", None) != "u":
                    raise Error("org.freedesktop.DBus.Error.InvalidArgs",
                                "PIDs wants au, got %r" % val)
                got[key] = ",".join(str(int(p)) for p in val)
            else:
                raise Error("org.freedesktop.DBus.Error.PropertyReadOnly",
                            "Cannot set property %s, or unknown property." % key)
        if len(aux):
            raise Error("org.freedesktop.DBus.Error.NotSupported", "Auxiliary units not supported")
        sl = got.get("Slice", "system.slice")
        self.sd.add(name, slice_cgroup(sl) + "/" + name)
        self.sd.jobs += 1
        self.sd.note("StartTransientUnit %s %s %s" % (name, mode, " ".join(
            "%s=%s" % (k, got[k]) for k in sorted(got))))

        def place():
            self.sd.make_cgroup(name)
            d = os.path.join(self.sd.cgroot, self.sd.units[name]["cgroup"])
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write("".join(p + "\n" for p in got.get("PIDs", "").split(",") if p))
        self.sd.later(place)
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.sd.jobs)


class Units(dbus.service.FallbackObject):
    def __init__(self, bus, sd):
        super().__init__(bus, UNIT_PREFIX)
        self.sd = sd

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v",
                         rel_path_keyword="rel")
    def Get(self, iface, prop, rel):
        # exact match on the encoded name: a wrongly escaped path is not found
        name = next((n for n in self.sd.units if "/" + label_escape(n) == rel), None)
        if name is None:
            raise Error("org.freedesktop.DBus.Error.UnknownObject",
                        "Unknown object '%s%s'." % (UNIT_PREFIX, rel))
        want = IFACES.get(unit_type(name))
        if iface != want:
            raise Error("org.freedesktop.DBus.Error.UnknownInterface",
                        "Unknown interface %s on %s." % (iface, name))
        if prop != "AllowedCPUs":
            raise Error("org.freedesktop.DBus.Error.UnknownProperty",
                        "Unknown property %s." % prop)
        self.sd.note("Get %s %s.%s" % (name, iface, prop))
        return dbus.ByteArray(self.sd.units[name]["allowed"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--address", required=True, help="the private bus's address")
    p.add_argument("--cgroot", required=True, help="<root>/sys/fs/cgroup")
    p.add_argument("--unit", nargs=2, action="append", default=[], metavar=("NAME", "CGROUP"),
                   help="a loaded unit and its cgroup below --cgroot")
    p.add_argument("--allowed", nargs=2, action="append", default=[], metavar=("NAME", "HEX"),
                   help="a unit's AllowedCPUs at start, as hex bytes")
    p.add_argument("--lazy", action="append", default=[], metavar="NAME",
                   help="a unit that takes AllowedCPUs and never applies it")
    p.add_argument("--delay", type=int, default=50, help="ms from reply to applying")
    p.add_argument("--log", required=True)
    p.add_argument("--ready", required=True, help="file written once the name is owned")
    args = p.parse_args()

    DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(args.address)
    sd = Systemd(args)
    Manager(bus, sd)
    Units(bus, sd)
    name = dbus.service.BusName(SD, bus, do_not_queue=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    bus.call_on_disconnection(lambda _: loop.quit())
    with open(args.ready, "w") as f:
        f.write("%d\n" % os.getpid())
    loop.run()
    del name
    return 0


if __name__ == "__main__":
    sys.exit(main())
