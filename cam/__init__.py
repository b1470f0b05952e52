"""cam: the Categorical Abstract Machine that runs compiled state machines."""
