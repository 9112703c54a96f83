"""An embedded household engine for EmbodiedBench's high-level worlds (EB-ALFRED's `household`, EB-Habitat's
`rearrange`): a symbolic state (`state`), goal predicates checked on it and on real simulators' metadata
(`goals`), the rules and skills acting on the state, and a MuJoCo scene built from it for pictures.
"""
