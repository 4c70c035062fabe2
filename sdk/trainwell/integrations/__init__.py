"""Log runs from your own training code: `torch` (a plain loop, with gradient norms through hooks) and
`lightning` (a Lightning Logger). Each needs its extra (`trainwell[torch]`, `trainwell[lightning]`); the
SDK itself never imports them."""
