package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes as a Go duration string
// ("5s", "1m30s") in JSON, and also accepts a number of nanoseconds as
// Nomad's JSON job files carry it.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*d = Duration(int64(x))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q", x)
		}
		*d = Duration(p)
	case nil:
		*d = 0
	default:
		return fmt.Errorf("invalid duration %s", b)
	}
	return nil
}

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// strictUnmarshal decodes JSON and refuses unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
