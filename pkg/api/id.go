package api

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns a random identifier in the UUID text form. Its first eight
// characters are what the CLI shows as a short ID.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the kernel's RNG never fails on Linux
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ShortID returns the first eight characters of an ID.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
