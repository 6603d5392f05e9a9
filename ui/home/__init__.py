"""The home screen: a vertical page of recommendation rows, each a sideways-scrolling carousel,
with a details panel, poster loading and visibility measurement. GUI thread only."""
