"""Developer tools that are not shipped in the wheel: the fleet simulation (`tools/fleet/`)."""
