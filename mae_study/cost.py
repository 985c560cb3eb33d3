"""The command ``python -m mae_study.cost --profile cpu``: what recomputing a profile's results
costs, read from the runs' provenance files (`mae_study.runs.cost`)."""
from mae_study.runs.cost import main, rebuild_cost, sweep_records  # noqa: F401

if __name__ == "__main__":
    main()
