"""Adapters that play the household worlds' skills and goals on the real simulators EmbodiedBench uses.

`thor` drives AI2-THOR (EB-ALFRED's simulator) from ALFRED trajectory files; `habitat` maps EB-Habitat's skills to
Habitat's high-level PDDL actions. Each splits into pure parts (skill -> simulator call, simulator state -> goal
`Fact`s, scene reset arguments), tested with fixture files on any machine, and a thin live class that imports the
simulator only when built, so importing an adapter never needs the simulator installed.
"""
