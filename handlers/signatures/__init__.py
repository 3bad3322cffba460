"""How survey tools sign their webhooks: one small module per scheme. Each check answers None
when the request is genuine, or one line saying what is wrong, never echoing what was sent."""
