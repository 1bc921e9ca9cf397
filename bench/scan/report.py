#!/usr/bin/env python3
"""RESULTS.md from the raw records of bench/scan/run.sh.

    report.py META RESULTS_TSV COMMANDS_TSV > RESULTS.md

META: key=value lines (machine, tools, settings). RESULTS_TSV: one line per run:
case, label, rep, wall seconds, exit status, status word, max RSS KiB, SYNs counted at the target,
"found=N true=N truth=N false=N". COMMANDS_TSV: case, label, command. Stdlib only.
"""
import statistics
import sys
from collections import OrderedDict

CASES = {
    "1": ("Case 1: one host, all 65,535 TCP ports, 100 open",
          "198.18.0.2 in the target namespace, 100 listeners on random ports, every other port "
          "closed (RST). zmap scans one port per run and is left out."),
    "2": ("Case 2: a /16 on one port, 1% of hosts live",
          "The target namespace answers for the whole block (`ip route add local ... dev lo`); nft "
          "drops, without reply, everything to the 99% of addresses not in the live set. Port 80 "
          "listens on every live address."),
    "3": ("Case 3: the same /16 on three ports, 5% loss each way",
          "As case 2, ports 22, 80 and 443 open on every live host, and nft drops 5% of packets "
          "at the target's input and 5% at its output (`numgen random mod 100 < 5`); the target "
          "does not retransmit SYN-ACKs (`tcp_synack_retries=0`), so a lost probe or reply stays "
          "lost. zmap runs once per port (the times of the three runs add up)."),
    "4": ("Case 4: connect scan of all ports of 127.0.0.1",
          "A network namespace of its own with only lo, 100 listeners on random ports. SYNs are "
          "counted at the namespace's output hook."),
}

MEM_LIMIT_KIB = 64 * 1024
WAIT_END_SUFFIX = ", until its --wait ends"


def pct(x):
    """A share as a percentage: 100% exactly, else three decimals (99.898%, not a rounded 99.9%)."""
    return "100%" if x >= 1.0 else f"{x * 100:.3f}%"


def fmt_num(x, digits=2):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def main():
    meta_path, res_path, cmd_path = sys.argv[1:4]
    meta = {}
    with open(meta_path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    runs = OrderedDict()  # (case, label) -> list of dicts
    with open(res_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 9:
                continue
            case, label, rep, wall, rc, status, rss, sent, score = parts[:9]
            wait_end = parts[9] if len(parts) > 9 else "NA"
            sc = dict(kv.split("=") for kv in score.split())
            rec = {
                "rep": int(rep),
                "wall": float(wall) if wall not in ("", "NA") else None,
                "rc": int(rc),
                "status": status,
                "rss": int(rss) if rss not in ("", "NA") else None,
                "sent": int(sent) if sent else None,
                "found": int(sc["found"]),
                "true": int(sc["true"]),
                "truth": int(sc["truth"]),
                "false": int(sc["false"]),
                "wait_end": float(wait_end) if wait_end not in ("", "NA") else None,
            }
            runs.setdefault((case, label), []).append(rec)
    cmds = {}
    with open(cmd_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                cmds[(parts[0], parts[1])] = parts[2]

    summary = {}
    for key, rs in runs.items():
        walls = [r["wall"] for r in rs if r["wall"] is not None]
        rss = [r["rss"] for r in rs if r["rss"] is not None]
        sent = [r["sent"] for r in rs if r["sent"] is not None]
        pps = [r["sent"] / r["wall"] for r in rs if r["sent"] is not None and r["wall"]]
        recall = [r["true"] / r["truth"] if r["truth"] else 1.0 for r in rs]
        # 137: timeout(1) had to follow its signal with SIGKILL (masscan 1.3.2 may ignore SIGINT).
        timed_out = [r["status"] == "timeout" or r["rc"] == 137 for r in rs]
        timeouts = sum(timed_out)
        errors = [r["status"] for r, t in zip(rs, timed_out) if r["status"] != "ok" and not t]
        summary[key] = {
            "n": len(rs),
            "wall": statistics.median(walls) if walls else None,
            "rss": statistics.median(rss) if rss else None,
            "rss_max": max(rss) if rss else None,
            "sent": statistics.median(sent) if sent else None,
            "pps": statistics.median(pps) if pps else None,
            "recall": statistics.median(recall),
            "recall_min": min(recall),
            "true": statistics.median([r["true"] for r in rs]),
            "truth": rs[0]["truth"],
            "false": max(r["false"] for r in rs),
            "timeouts": timeouts,
            "errors": errors,
        }

    # masscan: a second row timed to the end of its --wait (stamp.py says why).
    order = []
    for key, rs in runs.items():
        order.append(key)
        ends = [r for r in rs if r["wait_end"] is not None]
        if not ends:
            continue
        d = dict(summary[key])
        d["wall"] = statistics.median(r["wait_end"] for r in ends)
        d["pps"] = statistics.median(r["sent"] / r["wait_end"] for r in ends
                                     if r["sent"] is not None and r["wait_end"])
        d["derived"] = True
        dkey = (key[0], key[1] + WAIT_END_SUFFIX)
        summary[dkey] = d
        order.append(dkey)

    out = []
    w = out.append
    w("# Glasshouse beside nmap, masscan and zmap")
    w("")
    w(f"Written by `bench/scan/run.sh` ({meta.get('mode', '?')} mode, REPEAT={meta.get('repeat')}: "
      f"every figure is the median of {meta.get('repeat')} run(s)) on {meta.get('date')}, "
      f"LAB_SEED={meta.get('seed')}, in {meta.get('total_seconds', '?')} s. "
      "Overwritten by every run; bench/scan/README.md says what each case measures.")
    w("")
    w("| machine and tools | |")
    w("|---|---|")
    w(f"| CPUs (nproc) | {meta.get('nproc')} |")
    w(f"| CPU model | {meta.get('cpu')} |")
    w(f"| kernel | {meta.get('kernel')} |")
    w(f"| OS | {meta.get('os')} |")
    w(f"| load average (1, 5, 15 min) at start / end | {meta.get('load_start')} / {meta.get('load_end')} |")
    w(f"| glasshouse | {meta.get('glasshouse')} |")
    w(f"| nmap | {meta.get('nmap')} |")
    w(f"| masscan | {meta.get('masscan')} (--rate {meta.get('masscan_rate')}) |")
    w(f"| zmap | {meta.get('zmap')} |")
    w(f"| sweep block (cases 2, 3) | {meta.get('sweep')} |")
    w(f"| per-run cap (timeout) | {meta.get('cap')} s; masscan: {meta.get('masscan_cap')} s; "
      f"nmap in case 2: {meta.get('nmap_sweep_cap')} s |")
    w("")
    w("Columns: **wall** is elapsed seconds from start to exit (`/usr/bin/time %e`), waits "
      "included; **glasshouse / this** divides a glasshouse row's median wall time by this row's "
      "(below 1: glasshouse is faster); **recall** is open ports found / open ports present "
      "(median; the worst run in brackets when runs differ); **false** counts ports reported "
      "open that are not (worst run); **peak RSS** is `/usr/bin/time %M`; **SYNs** are the TCP "
      "SYNs (no ACK) an nft counter saw arrive at the target (retries included), and **pps** is "
      "SYNs / wall.")
    w("")

    verdicts = []

    def s(case, label):
        return summary.get((case, label))

    def ratio(a, b):
        if a is None or b is None or a["wall"] is None or not b["wall"]:
            return None
        return a["wall"] / b["wall"]

    def mem_ok(case_labels):
        worst = max((summary[k]["rss_max"] or 0) for k in case_labels)
        return worst

    for case in sorted({k[0] for k in runs}):
        title, desc = CASES.get(case, (f"Case {case}", ""))
        labels = [k[1] for k in order if k[0] == case]
        ghs = [l for l in labels if l.startswith("glasshouse")]
        w(f"## {title}")
        w("")
        w(desc)
        w("")
        head = ["tool", "wall s"] + [f"{g} / this" for g in ghs] + [
            "recall", "false", "peak RSS MiB", "SYNs", "pps", "exit"]
        w("| " + " | ".join(head) + " |")
        w("|" + "|".join(["---"] + ["---:"] * (len(head) - 2) + ["---"]) + "|")
        for label in labels:
            m = summary[(case, label)]
            wall = fmt_num(m["wall"])
            if m["timeouts"]:
                wall = f"{wall} ({m['timeouts']} of {m['n']} timed out)"
            cells = [f"`{label}`" if not label.startswith("glasshouse") else f"**`{label}`**", wall]
            for g in ghs:
                r = ratio(summary[(case, g)], m)
                cells.append(fmt_num(r) if r is not None else "-")
            rec = f"{pct(m['recall'])} ({m['true']:g}/{m['truth']})"
            if m["recall_min"] < m["recall"]:
                rec += f" [worst {pct(m['recall_min'])}]"
            cells.append(rec)
            cells.append(str(m["false"]))
            cells.append(fmt_num(m["rss"] / 1024 if m["rss"] is not None else None, 1))
            cells.append(fmt_num(m["sent"], 0))
            cells.append(fmt_num(m["pps"], 0))
            status = "0" if not m["timeouts"] and not m["errors"] else ", ".join(
                ([f"timeout {m['timeouts']}/{m['n']}"] if m["timeouts"] else []) + m["errors"])
            cells.append(status)
            w("| " + " | ".join(cells) + " |")
        w("")
        w("Commands (`$W` is the run's work directory, `$GH1_MAC` the target veth's MAC address):")
        w("")
        w("```")
        for label in labels:
            c = cmds.get((case, label))
            if c:
                w(c)
        w("```")
        if any(l.endswith(WAIT_END_SUFFIX) for l in labels):
            w("")
            w("Rows marked \"until its --wait ends\" time masscan to the moment its --wait "
              "countdown reached 0 (from its time-stamped status lines), leaving out the time "
              "masscan 1.3.2 then takes to exit (its transmit thread checks the done flag only "
              "every 1,000 sleeps of 100 us, slow on a loaded machine). Their pps is SYNs / that "
              "time.")
        w("")

        # Issue 4's targets for this case.
        for gl in ghs if case == "1" else []:
            g, p = s("1", gl), s("1", "nmap -sS -T5")
            r = ratio(g, p)
            if g and p:
                ok = r is not None and r <= 0.5 and g["recall_min"] == 1.0
                verdicts.append(("1", f"`{gl}`: ≤ 0.5 × nmap -sS -T5's time, all 100 open ports found",
                                 f"{fmt_num(r, 3)} × ({fmt_num(g['wall'])} s vs {fmt_num(p['wall'])} s), "
                                 f"recall {pct(g['recall_min'])} (worst run)", ok))
        for gl in ghs if case == "2" else []:
            g, p = s("2", gl), s("2", "zmap -T 2")
            r = ratio(g, p)
            if g and p:
                ok = (r is not None and r <= 0.5 and g["recall_min"] == 1.0 and g["pps"] is not None
                      and p["pps"] is not None and g["pps"] >= p["pps"])
                verdicts.append(("2", f"`{gl}`: ≤ 0.5 × zmap's time, every live host found, send rate ≥ zmap's",
                                 f"{fmt_num(r, 3)} × ({fmt_num(g['wall'])} s vs {fmt_num(p['wall'])} s), "
                                 f"recall {pct(g['recall_min'])} (worst run), "
                                 f"{fmt_num(g['pps'], 0)} vs {fmt_num(p['pps'], 0)} SYNs/s", ok))
        if case == "3":
            p = s("3", "masscan --retries 1")
            pw = s("3", "masscan --retries 1" + WAIT_END_SUFFIX)
            if pw is not None:
                p = pw
            for gl in ghs:
                g = s("3", gl)
                r = ratio(g, p)
                if g and p:
                    ok = r is not None and r <= 0.5 and g["recall_min"] >= 0.999
                    verdicts.append(("3", f"`{gl}`: ≥ 99.9% of open ports in ≤ 0.5 × masscan --retries 1's time",
                                     f"{fmt_num(r, 3)} × ({fmt_num(g['wall'])} s vs {fmt_num(p['wall'])} s), "
                                     f"recall {pct(g['recall_min'])} (worst run)", ok))
        if case == "4":
            for gl in ghs:
                level = gl.split()[-1]
                p = s("4", f"nmap -sT {level}")
                g = s("4", gl)
                r = ratio(g, p)
                if g and p:
                    ok = r is not None and r <= 0.5 and g["recall_min"] == 1.0
                    verdicts.append(("4", f"`{gl}`: ≤ 0.5 × nmap -sT {level}'s time",
                                     f"{fmt_num(r, 3)} × ({fmt_num(g['wall'])} s vs {fmt_num(p['wall'])} s), "
                                     f"recall {pct(g['recall_min'])} (worst run)", ok))
        if case in ("1", "2", "3") and ghs:
            worst = mem_ok([(case, gl) for gl in ghs])
            verdicts.append((case, "glasshouse peak memory < 64 MiB",
                             f"{worst / 1024:.1f} MiB (largest run)", worst < MEM_LIMIT_KIB))

    if verdicts:
        idx = out.index("") + 1
        block = ["## Issue 4's targets", "",
                 "| case | target | measured | met |", "|---|---|---|---|"]
        for case, target, measured, ok in verdicts:
            block.append(f"| {case} | {target} | {measured} | {'yes' if ok else '**no**'} |")
        block.append("")
        # after the machine table and the column notes: before the first case section
        first_case = next(i for i, l in enumerate(out) if l.startswith("## Case"))
        out[first_case:first_case] = block
        del idx
    print("\n".join(out))


if __name__ == "__main__":
    main()
