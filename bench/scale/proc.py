"""What the scale benchmark reads from /proc about a server's process group (stdlib only).

CPU is utime + stime of every process in the group, plus what its members' waited-for
children used (cutime + cstime), in seconds. Memory is summed over the group: RSS, and
PSS (each shared page split between the processes sharing it: NSD forks children that
share its zone data, so PSS is the fair figure for it, and equals RSS for one process).
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # fields after "(comm)": [0] = state (field 3), [2] = pgrp (field 5),
    # [11..14] = utime, stime, cutime, cstime (fields 14..17)
    return text[text.rindex(")") + 2 :].split()


def group_pids(pgid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = _stat_fields(d)
        except (OSError, ValueError):
            continue
        if int(f[2]) == pgid and f[0] != "Z":
            pids.append(int(d))
    return pids


def group_cpu(pgid):
    """CPU seconds the group has used so far."""
    ticks = 0
    for p in group_pids(pgid):
        try:
            f = _stat_fields(p)
        except (OSError, ValueError):
            continue
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return ticks / CLK_TCK


def group_mem(pgid, pss=True):
    """{"rss": bytes, "pss": bytes, "hwm": largest VmHWM of one process, "procs": n}."""
    out = {"rss": 0, "pss": 0, "hwm": 0, "procs": 0}
    for p in group_pids(pgid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out["rss"] += int(line.split()[1]) * 1024
                    elif line.startswith("VmHWM:"):
                        out["hwm"] = max(out["hwm"], int(line.split()[1]) * 1024)
            if pss:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            out["pss"] += int(line.split()[1]) * 1024
                            break
            out["procs"] += 1
        except OSError:
            pass
    if not pss:
        out["pss"] = out["rss"]
    return out


def reset_hwm(pgid):
    """Resets VmHWM (peak RSS) of every process in the group to its current RSS
    (`echo 5 > /proc/PID/clear_refs`, Linux >= 4.0); False where that is not allowed."""
    ok = True
    for p in group_pids(pgid):
        try:
            with open(f"/proc/{p}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok
