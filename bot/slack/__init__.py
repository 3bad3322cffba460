"""Everything that speaks Slack: escaping, Block Kit rendering, action ids, the publisher."""
