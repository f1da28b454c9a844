"""casahub alarm domain: pure model, engine, policy, messages."""
