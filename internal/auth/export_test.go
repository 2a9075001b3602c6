package auth

// SetRule makes the layer apply rule to method, before it serves: for
// tests of rules that no shipped method or route has (an audited plain
// route). The layer's policy is its own copy of Policy.
func (l *Layer) SetRule(method string, rule Rule) { l.policy[method] = rule }
