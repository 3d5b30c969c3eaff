//! Spawning the agent, relaying signals, and exiting the way it exited.
