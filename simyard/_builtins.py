"""What simyard itself registers, as lazy `module:attribute` paths so naming one never imports the others."""

REGISTRY: dict[str, dict[str, str]] = {
    "world": {
        "sokoban": "simyard.sims.puzzles.sokoban:SokobanEnv",
        "frozenlake": "simyard.sims.puzzles.frozenlake:FrozenLakeEnv",
        "bandit": "simyard.sims.puzzles.bandit:BanditEnv",
        "countdown": "simyard.sims.puzzles.countdown:CountdownEnv",
        "household": "simyard.sims.household.alfred:HouseholdEnv",
        "rearrange": "simyard.sims.household.rearrange:RearrangeEnv",
        "navigation": "simyard.sims.navigation.world:NavigationEnv",
        "manipulation": "simyard.sims.manipulation.world:ManipulationEnv",
        "harbor": "simyard.harbor.world:HarborEnv",
        "syncmind": "simyard.repos.syncmind:SyncMindEnv",
        "remote": "simyard.sims.remote:RemoteEnv",
    },
    "agent": {
        "random": "simyard.agents.baselines:RandomAgent",
        "oracle": "simyard.agents.baselines:OracleAgent",
        "human": "simyard.agents.human:HumanAgent",
        "openai": "simyard.agents.openai_agent:OpenAIAgent",
        "local": "simyard.agents.local_agent:LocalAgent",
    },
    "suite": {
        "ragen": "simyard.tasks.ragen:ragen_suite",
        "eb-alfred": "simyard.tasks.eb_alfred:eb_alfred_suite",
        "eb-habitat": "simyard.tasks.eb_habitat:eb_habitat_suite",
        "eb-navigation": "simyard.tasks.eb_navigation:eb_navigation_suite",
        "eb-manipulation": "simyard.tasks.eb_manipulation:eb_manipulation_suite",
        "syncmind-mini": "simyard.tasks.syncmind_mini:syncmind_mini_suite",
        "remote": "simyard.sims.remote:remote_suite",
    },
}
