"""The representative's console on screen: a bridge, a small App, one thin view and one .kv per screen."""
