// Package wire holds the facts of the wire protocol that both the SDK and the
// reference server need: the error-code table, the feature names advertised
// by GET /health, and the shapes of stream events. Each is written once here
// and derived from everywhere else, so the two ends cannot drift apart.
//
// It has no dependencies beyond the standard library and holds data, not
// behaviour.
package wire
