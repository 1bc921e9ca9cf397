#!/usr/bin/env python3
"""Check a Kubernetes manifest that runs a sharded glasshouse scan as an Indexed Job.

    check_k8s_manifest.py deploy/k8s/glasshouse-shards.yaml
    check_k8s_manifest.py --selftest deploy/k8s/glasshouse-shards.yaml

Without a cluster (no kubectl): the YAML is parsed (every document) and each batch/v1 Job is
checked for what a sharded scan needs to be right (docs/SCALING.md):

  * completionMode Indexed, completions == parallelism == the scan's --shards N;
  * the glasshouse container's args: exactly one --shards, one --shard whose value is the pod's
    completion index ($(JOB_COMPLETION_INDEX), or a variable taken from the index annotation or
    label through the downward API; never a fixed value), exactly one fixed numeric --seed;
  * -oJ, --audit-log (and --checkpoint / --resume when given) write to a file whose name carries
    the index, on a mounted, writable PersistentVolumeClaim volume; the claim is defined in the
    manifest and is ReadWriteMany when more than one pod runs at a time;
  * every volume mount names a volume of the pod;
  * capabilities: NET_RAW and NET_ADMIN added for -sS; when the container runs as root with
    `drop: [ALL]`, also SETPCAP, SETUID and SETGID (glasshouse needs them to drop to nobody once its
    sockets are open, and stops otherwise); never `privileged: true`;
  * restartPolicy Never or OnFailure (Never with backoffLimitPerIndex);
  * --scope, when given, is a file of a mounted ConfigMap of the manifest, and the scan's targets
    and --max-rate fit inside that scope.

Exit 0 when every Job passes, 1 with one line per problem otherwise, 2 on bad usage.

--selftest checks the manifest passes, then that each of a set of broken copies of it (one fault
each: completions != parallelism, a fixed --shard, no --seed, -oJ off the volume, no NET_RAW...)
is rejected for the expected reason: the check is shown able to fail.
"""

import copy
import ipaddress
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    print("check_k8s_manifest.py needs PyYAML (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(1)
try:
    import tomllib
except ImportError:  # pragma: no cover (Python < 3.11)
    tomllib = None

INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_FIELD_PATHS = {f"metadata.annotations['{INDEX_KEY}']", f"metadata.labels['{INDEX_KEY}']"}
INDEX_ENV = "JOB_COMPLETION_INDEX"
VAR_RE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def option_values(tokens, *names):
    """Values of an option given as `NAME VALUE` or `NAME=VALUE`, in order."""
    out = []
    for i, tok in enumerate(tokens):
        for name in names:
            if tok == name and i + 1 < len(tokens):
                out.append(str(tokens[i + 1]))
            elif tok.startswith(name + "="):
                out.append(tok[len(name) + 1:])
    return out


def has_flag(tokens, *names):
    return any(tok in names for tok in tokens)


def index_vars(container):
    """Names of variables whose value is the pod's completion index, and problems with them."""
    problems = []
    names = {INDEX_ENV}  # set by the Job controller in Indexed mode unless the pod names it
    for env in container.get("env") or []:
        name = env.get("name")
        field = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if field in INDEX_FIELD_PATHS:
            names.add(name)
        elif name in names:
            names.discard(name)
            problems.append(f"env {name} is not the completion index (set it from the downward "
                            f"API fieldPath metadata.annotations['{INDEX_KEY}'], or leave it out)")
    return names, problems


def mount_for(path, mounts):
    """The volume mount whose mountPath holds `path` (the longest match), or None."""
    best = None
    for m in mounts:
        mp = str(m.get("mountPath", "")).rstrip("/")
        if mp and (path == mp or path.startswith(mp + "/")):
            if best is None or len(mp) > len(str(best.get("mountPath", "")).rstrip("/")):
                best = m
    return best


def parse_ports(spec):
    """`1-1024,8080` -> set of ints (None when the spec uses names or protocols)."""
    ports = set()
    for item in str(spec).split(","):
        item = item.strip()
        if not re.fullmatch(r"\d+(-\d+)?", item):
            return None
        lo, _, hi = item.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return ports


def check_scope(scope_text, targets, tokens, where):
    problems = []
    if tomllib is None:
        return problems
    try:
        scope = tomllib.loads(scope_text)
    except tomllib.TOMLDecodeError as e:
        return [f"{where}: the scope file is not valid TOML: {e}"]
    include = [ipaddress.ip_network(n, strict=False) for n in scope.get("targets", {}).get("include", [])]
    exclude = [ipaddress.ip_network(n, strict=False) for n in scope.get("targets", {}).get("exclude", [])]
    for t in targets:
        try:
            net = ipaddress.ip_network(t, strict=False)
        except ValueError:
            problems.append(f"{where}: target {t!r} is not an address or CIDR block (a scope "
                            f"check needs addresses)")
            continue
        if not any(net.version == i.version and net.subnet_of(i) for i in include):
            problems.append(f"{where}: target {t} is outside the scope's include list: the scan "
                            f"would be refused")
        if any(net.version == x.version and net.overlaps(x) for x in exclude):
            problems.append(f"{where}: target {t} overlaps the scope's exclude list: the scan "
                            f"would be refused")
    scope_ports = scope.get("targets", {}).get("ports")
    for spec in option_values(tokens, "-p", "--ports"):
        want, allowed = parse_ports(spec), parse_ports(scope_ports) if scope_ports else None
        if want is not None and allowed is not None and not want <= allowed:
            problems.append(f"{where}: -p {spec} is outside the scope's ports {scope_ports}")
    limit = scope.get("limits", {}).get("max_rate")
    for rate in option_values(tokens, "--max-rate", "--rate"):
        if limit is not None and float(rate) > float(limit):
            problems.append(f"{where}: --max-rate {rate} is above the scope's max_rate {limit}")
    return problems


def check_job(job, docs, where):
    problems = []
    spec = job.get("spec") or {}
    if job.get("apiVersion") != "batch/v1":
        problems.append(f"{where}: apiVersion is {job.get('apiVersion')!r}, not batch/v1")
    if spec.get("completionMode") != "Indexed":
        problems.append(f"{where}: completionMode is {spec.get('completionMode')!r}, not Indexed "
                        f"(the completion index is the shard)")
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if not isinstance(completions, int) or completions < 1:
        problems.append(f"{where}: completions must be a positive integer (the number of shards)")
        completions = None
    if parallelism != completions:
        problems.append(f"{where}: parallelism {parallelism} != completions {completions}")

    pod = (spec.get("template") or {}).get("spec") or {}
    restart = pod.get("restartPolicy")
    if restart not in ("Never", "OnFailure"):
        problems.append(f"{where}: restartPolicy {restart!r}: a Job needs Never or OnFailure")
    elif "backoffLimitPerIndex" in spec and restart != "Never":
        problems.append(f"{where}: backoffLimitPerIndex needs restartPolicy Never, not {restart}")

    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    claims = {d["metadata"]["name"]: d for d in docs
              if isinstance(d, dict) and d.get("kind") == "PersistentVolumeClaim"}
    configmaps = {d["metadata"]["name"]: d for d in docs
                  if isinstance(d, dict) and d.get("kind") == "ConfigMap"}

    scanners = []
    for c in pod.get("containers") or []:
        tokens = [str(t) for t in (c.get("command") or []) + (c.get("args") or [])]
        if any(t.endswith("glasshouse") for t in tokens) and "scan" in tokens:
            scanners.append((c, tokens))
    if not scanners:
        problems.append(f"{where}: no container runs `glasshouse scan`")
    for c, tokens in scanners:
        cw = f"{where}: container {c.get('name')}"
        mounts = c.get("volumeMounts") or []
        for m in mounts:
            if m.get("name") not in volumes:
                problems.append(f"{cw}: volumeMount {m.get('name')!r} names no volume of the pod")
        idx_names, env_problems = index_vars(c)
        problems += [f"{cw}: {p}" for p in env_problems]

        def is_index_ref(value):
            refs = VAR_RE.findall(value)
            return len(refs) == 1 and refs[0] in idx_names

        # --shards N, --shard $(INDEX)
        shards = option_values(tokens, "--shards")
        if len(shards) != 1:
            problems.append(f"{cw}: --shards given {len(shards)} times, expected once")
        elif completions is not None and shards[0] != str(completions):
            problems.append(f"{cw}: --shards {shards[0]} != completions {completions}")
        shard = option_values(tokens, "--shard")
        if len(shard) != 1:
            problems.append(f"{cw}: --shard given {len(shard)} times, expected once")
        elif not (is_index_ref(shard[0]) and VAR_RE.fullmatch(shard[0])):
            problems.append(f"{cw}: --shard {shard[0]!r} is not the completion index "
                            f"($({INDEX_ENV}))")
        # One fixed --seed: every shard must walk the same permutation.
        seeds = option_values(tokens, "--seed")
        if len(seeds) != 1:
            problems.append(f"{cw}: --seed given {len(seeds)} times, expected exactly once")
        elif not re.fullmatch(r"\d+", seeds[0]):
            problems.append(f"{cw}: --seed {seeds[0]!r} is not one fixed number")

        # Files on the shared volume, one per shard.
        def check_file(option, value, required_index=True):
            if required_index and not is_index_ref(value.rsplit("/", 1)[-1]):
                problems.append(f"{cw}: {option} {value}: the file name does not carry the "
                                f"completion index (each shard needs a file of its own)")
            if not value.startswith("/"):
                problems.append(f"{cw}: {option} {value}: not an absolute path")
                return
            m = mount_for(value, mounts)
            if m is None:
                problems.append(f"{cw}: {option} {value} is on no mounted volume: it is lost "
                                f"with the pod")
                return
            if m.get("readOnly"):
                problems.append(f"{cw}: {option} {value} is on a read-only mount")
            vol = volumes.get(m.get("name")) or {}
            pvc = vol.get("persistentVolumeClaim")
            if not pvc:
                problems.append(f"{cw}: {option} {value} is on volume {m.get('name')!r}, "
                                f"which is not a persistentVolumeClaim")
                return
            claim = claims.get(pvc.get("claimName"))
            if claim is None:
                problems.append(f"{cw}: {option}: claim {pvc.get('claimName')!r} is not defined "
                                f"in this manifest")
            elif (parallelism or 1) > 1 and "ReadWriteMany" not in (
                    (claim.get("spec") or {}).get("accessModes") or []):
                problems.append(f"{cw}: {option}: claim {pvc.get('claimName')} is not "
                                f"ReadWriteMany, but {parallelism} pods on different nodes "
                                f"write to it")

        outputs = option_values(tokens, "-oJ", "--output-jsonl")
        if len(outputs) != 1:
            problems.append(f"{cw}: -oJ given {len(outputs)} times, expected once")
        for v in outputs:
            check_file("-oJ", v)
        audit = option_values(tokens, "--audit-log")
        if len(audit) != 1:
            problems.append(f"{cw}: --audit-log given {len(audit)} times, expected once (on "
                            f"the shared volume, or the record of the scan dies with the pod)")
        for v in audit:
            check_file("--audit-log", v)
        for opt in ("--checkpoint", "--resume"):
            for v in option_values(tokens, opt):
                check_file(opt, v)

        # Capabilities for -sS (the default as root), and the privilege drop.
        sc = c.get("securityContext") or {}
        psc = pod.get("securityContext") or {}
        caps = sc.get("capabilities") or {}
        added = {str(x).upper().removeprefix("CAP_") for x in caps.get("add") or []}
        dropped = {str(x).upper().removeprefix("CAP_") for x in caps.get("drop") or []}
        if sc.get("privileged"):
            problems.append(f"{cw}: privileged: true gives the scan every capability; add the "
                            f"ones it needs instead")
        if not has_flag(tokens, "-sT", "-sL", "--connect", "--list"):
            for cap in ("NET_RAW", "NET_ADMIN"):
                if cap not in added:
                    problems.append(f"{cw}: capability {cap} is not added (-sS needs it)")
        run_as = sc.get("runAsUser", psc.get("runAsUser"))
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if (run_as == 0 or (run_as is None and not non_root)) and "ALL" in dropped:
            for cap in ("SETPCAP", "SETUID", "SETGID"):
                if cap not in added:
                    problems.append(f"{cw}: runs as root with every capability dropped but "
                                    f"{cap}: glasshouse cannot drop to nobody and will not scan")

        # The scope: a file of a mounted ConfigMap of this manifest, and the scan fits in it.
        for value in option_values(tokens, "--scope"):
            m = mount_for(value, mounts)
            vol = volumes.get(m.get("name")) if m else None
            cm_ref = (vol or {}).get("configMap")
            if not cm_ref:
                problems.append(f"{cw}: --scope {value} is not in a mounted ConfigMap volume")
                continue
            cm = configmaps.get(cm_ref.get("name"))
            if cm is None:
                problems.append(f"{cw}: --scope: ConfigMap {cm_ref.get('name')!r} is not "
                                f"defined in this manifest")
                continue
            rel = value[len(str(m.get("mountPath")).rstrip("/")) + 1:]
            items = cm_ref.get("items")
            key = rel
            if items:
                key = next((i.get("key") for i in items if i.get("path") == rel), None)
            data = cm.get("data") or {}
            if key not in data:
                problems.append(f"{cw}: --scope {value}: ConfigMap {cm_ref.get('name')} has no "
                                f"key {key!r}")
                continue
            targets = [t for i, t in enumerate(tokens) if i > tokens.index("scan")
                       and re.fullmatch(r"[0-9a-fA-F:.]+(/\d+)?", t)
                       and (":" in t or t.count(".") == 3)
                       and tokens[i - 1] not in ("-p", "--ports", "--seed", "--max-rate")]
            if not targets:
                problems.append(f"{cw}: no target addresses in the args")
            problems += check_scope(data[key], targets, tokens, cw)
    return problems


def check(docs):
    docs = [d for d in docs if d is not None]
    jobs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Job"]
    if not jobs:
        return ["no Job in the manifest"]
    problems = []
    for job in jobs:
        name = (job.get("metadata") or {}).get("name", "?")
        problems += check_job(job, docs, f"Job {name}")
    return problems


# --- selftest: broken copies of the manifest must be rejected --------------------------------

def _job(docs):
    return next(d for d in docs if d.get("kind") == "Job")


def _pod(docs):
    return _job(docs)["spec"]["template"]["spec"]


def _container(docs):
    return _pod(docs)["containers"][0]


def _set_arg(docs, option, value):
    args = _container(docs)["args"]
    args[args.index(option) + 1] = value


def _drop_arg(docs, option):
    args = _container(docs)["args"]
    i = args.index(option)
    del args[i:i + 2]


def _cap_without(docs, cap):
    caps = _container(docs)["securityContext"]["capabilities"]
    caps["add"] = [c for c in caps["add"] if c != cap]


def _scope_doc(docs):
    return next(d for d in docs if d.get("kind") == "ConfigMap")


def _results_mount(docs):
    args = _container(docs)["args"]
    out = args[args.index("-oJ") + 1]
    return mount_for(out, _container(docs)["volumeMounts"])


def _results_volume(docs):
    name = _results_mount(docs)["name"]
    return next(v for v in _pod(docs)["volumes"] if v["name"] == name)


BROKEN = [
    ("not Indexed", "completionMode",
     lambda d: _job(d)["spec"].update(completionMode="NonIndexed")),
    ("parallelism != completions", "parallelism",
     lambda d: _job(d)["spec"].update(parallelism=_job(d)["spec"]["completions"] + 1)),
    ("--shards != completions", "--shards",
     lambda d: _set_arg(d, "--shards", str(_job(d)["spec"]["completions"] + 1))),
    ("--shards missing", "--shards given 0 times", lambda d: _drop_arg(d, "--shards")),
    ("--shard fixed", "is not the completion index", lambda d: _set_arg(d, "--shard", "0")),
    ("--shard escaped ($$)", "is not the completion index",
     lambda d: _set_arg(d, "--shard", "$$(JOB_COMPLETION_INDEX)")),
    ("--shard from a plain env var", "is not the completion index",
     lambda d: (_set_arg(d, "--shard", "$(SHARD)"),
                _container(d)["env"].append({"name": "SHARD", "value": "1"}))),
    ("JOB_COMPLETION_INDEX overridden", "is not the completion index",
     lambda d: _container(d).update(env=[{"name": "JOB_COMPLETION_INDEX", "value": "0"}])),
    ("no --seed", "--seed given 0 times", lambda d: _drop_arg(d, "--seed")),
    ("two --seed", "--seed given 2 times",
     lambda d: _container(d)["args"].extend(["--seed", "7"])),
    ("--seed per pod", "not one fixed number",
     lambda d: _set_arg(d, "--seed", "$(JOB_COMPLETION_INDEX)")),
    ("-oJ without the index", "does not carry the completion index",
     lambda d: _set_arg(d, "-oJ", _results_mount(d)["mountPath"] + "/results.jsonl")),
    ("-oJ off the volume", "is on no mounted volume",
     lambda d: _set_arg(d, "-oJ", "/tmp/shard-$(JOB_COMPLETION_INDEX).jsonl")),
    ("no -oJ", "-oJ given 0 times", lambda d: _drop_arg(d, "-oJ")),
    ("results not mounted", "is on no mounted volume",
     lambda d: _container(d).update(volumeMounts=[
         m for m in _container(d)["volumeMounts"] if m is not _results_mount(d)])),
    ("results volume is emptyDir", "not a persistentVolumeClaim",
     lambda d: (_results_volume(d).pop("persistentVolumeClaim"),
                _results_volume(d).update(emptyDir={}))),
    ("claim not ReadWriteMany", "not ReadWriteMany",
     lambda d: next(x for x in d if x.get("kind") == "PersistentVolumeClaim")["spec"].update(
         accessModes=["ReadWriteOnce"])),
    ("mount of an undefined volume", "names no volume",
     lambda d: _container(d)["volumeMounts"].append({"name": "nope", "mountPath": "/nope"})),
    ("audit log off the volume", "is on no mounted volume",
     lambda d: _set_arg(d, "--audit-log", "/var/log/glasshouse/shard-$(JOB_COMPLETION_INDEX).jsonl")),
    ("one audit log for all shards", "--audit-log",
     lambda d: _set_arg(d, "--audit-log", _results_mount(d)["mountPath"] + "/audit.jsonl")),
    ("no NET_RAW", "NET_RAW", lambda d: _cap_without(d, "NET_RAW")),
    ("no NET_ADMIN", "NET_ADMIN", lambda d: _cap_without(d, "NET_ADMIN")),
    ("root without SETUID", "SETUID", lambda d: _cap_without(d, "SETUID")),
    ("privileged", "privileged",
     lambda d: _container(d)["securityContext"].update(privileged=True)),
    ("restartPolicy Always", "restartPolicy", lambda d: _pod(d).update(restartPolicy="Always")),
    ("backoffLimitPerIndex with OnFailure", "backoffLimitPerIndex needs restartPolicy Never",
     lambda d: (_job(d)["spec"].update(backoffLimitPerIndex=1),
                _pod(d).update(restartPolicy="OnFailure"))),
    ("apiVersion", "apiVersion", lambda d: _job(d).update(apiVersion="batch/v1beta1")),
    ("no Job", "no Job", lambda d: d.remove(_job(d))),
    ("scope key missing", "has no key",
     lambda d: _scope_doc(d).update(data={"other.toml": ""})),
    ("target outside the scope", "outside the scope",
     lambda d: _container(d)["args"].append("203.0.113.0/24")),
    ("rate above the scope", "above the scope's max_rate",
     lambda d: _set_arg(d, "--max-rate", "1000000")),
]


def selftest(docs):
    ok = True
    base = check(copy.deepcopy(docs))
    if base:
        print("selftest: the manifest itself fails:", *base, sep="\n  ")
        return False
    for name, expect, breaker in BROKEN:
        broken = copy.deepcopy([d for d in docs if d is not None])
        breaker(broken)
        problems = check(broken)
        if not any(expect in p for p in problems):
            ok = False
            print(f"selftest: broken copy '{name}' was not rejected for '{expect}'; got: "
                  f"{problems or 'no problems'}")
        else:
            print(f"selftest: '{name}' rejected: {next(p for p in problems if expect in p)}")
    if tomllib is None:
        print("selftest: note: tomllib missing (Python < 3.11): scope contents not checked")
    return ok


def main(argv):
    args = [a for a in argv if a != "--selftest"]
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: check_k8s_manifest.py [--selftest] MANIFEST.yaml", file=sys.stderr)
        return 2
    try:
        with open(args[0]) as f:
            docs = list(yaml.safe_load_all(f))
    except (OSError, yaml.YAMLError) as e:
        print(f"{args[0]}: {e}", file=sys.stderr)
        return 1
    if "--selftest" in argv:
        if not selftest(docs):
            return 1
        print(f"selftest: the manifest passes and all {len(BROKEN)} broken copies are rejected")
        return 0
    problems = check(docs)
    for p in problems:
        print(f"{args[0]}: {p}")
    if not problems:
        jobs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Job"]
        print(f"{args[0]}: ok ({len(jobs)} Indexed Job(s), "
              f"{', '.join(str(j['spec']['completions']) for j in jobs)} shards)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
