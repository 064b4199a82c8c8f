"""``make release``: dataset → embedded base model → finetune → evaluate both → cards → stage → validate → push."""
