"""Archive a chapter's verdicts before its runs are recomputed on another setting
(`mae_study.report.superseded`):

    python -m mae_study.chapters.archive dynmask --profile cpu --setting siblings-v1
"""
from __future__ import annotations

import argparse

from mae_study.chapters.ablations import claims as ablation_claims
from mae_study.chapters.dynmask import claims as dynmask_claims
from mae_study.chapters.synthetic import claims as synthetic_claims
from mae_study.report.superseded import KEYS, archive

CLAIMS = {"dynmask": dynmask_claims.claims, "mae_ablations": ablation_claims.claims,
          "synthetic": synthetic_claims.claims}
assert set(CLAIMS) == set(KEYS), "a chapter with archived claims has no claims function here"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", choices=sorted(CLAIMS))
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--setting", required=True, help="the built-in setting the runs used")
    args = parser.parse_args(argv)
    frame = archive(args.chapter, args.profile, args.setting, CLAIMS[args.chapter](args.profile))
    print(f"archived {len(frame)} claims of {args.chapter} ({args.profile})")


if __name__ == "__main__":
    main()
