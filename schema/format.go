package schema

import (
	"cuelang.org/go/cue/format"
)

// FormatCUE renders a Go value (through its JSON field names) as formatted
// CUE source.
func (s *Schema) FormatCUE(v any) ([]byte, error) {
	val := s.ctx.Encode(v)
	if err := val.Err(); err != nil {
		return nil, err
	}
	return format.Node(val.Syntax())
}

// FormatSource formats CUE source text the way cue fmt does.
func (s *Schema) FormatSource(src []byte) ([]byte, error) {
	return format.Source(src)
}
