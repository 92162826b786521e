"""Totals of the retirement sweeps of docs/performance.md ("PAIR's parity sweep with retirement"): per width,
members, retired, member-steps trained against the full budget, and training wall time, read from the stores."""
import collections
import sys

from grokscope.store import Store

# usage: python benchmarks/sweep_retire_totals.py STORE.db [STORE.db ...]  (the stores the sweeps wrote)
tot = bud = wall = ret = n = 0; und = 0; per = collections.defaultdict(lambda: [0,0,0,0,0.0])
for db in sys.argv[1:]:
    s = Store(db)
    for r in s.list_runs():
        if r.status != "finished": continue
        sm = r.summary; w = r.config["model"]["width"]
        p = per[w]; p[0]+=r.n_members; p[1]+=sm["n_retired"]; p[2]+=sm["member_steps"]; p[3]+=sm["member_steps_budget"]; p[4]+=sm["wall_seconds"]
        for m in s.members(r.id):
            if m.get("retired_step") is None: und += 1
for w in sorted(per):
    m, rt, st, b, wl = per[w]
    print(f"width {w}: members {m}, retired {rt}, member-steps {st} of {b} ({st/b:.3f}), wall {wl:.0f} s")
    tot+=st; bud+=b; wall+=wl; ret+=rt; n+=m
print(f"all: members {n}, retired {ret}, not retired {und}, member-steps {tot} of {bud} ({tot/bud:.3f}), training wall {wall:.0f} s = {wall/60:.1f} min")
