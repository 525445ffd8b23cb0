package api

// Nomad's exec protocol, the frames of an exec session's websocket
// (`nomad alloc exec`, `nctl alloc exec`): the client sends ExecInput
// (an empty one is a heartbeat), the node agent ExecOutput.

// ExecData is a piece of a stream; Close (stdin only) ends it.
type ExecData struct {
	Data  []byte `json:"data,omitempty"`
	Close bool   `json:"close,omitempty"`
}

// ExecTTYSize is a terminal's new size.
type ExecTTYSize struct {
	Height int `json:"height,omitempty"`
	Width  int `json:"width,omitempty"`
}

// ExecInput is a frame from the client: stdin, or a terminal size.
type ExecInput struct {
	Stdin   *ExecData    `json:"stdin,omitempty"`
	TTYSize *ExecTTYSize `json:"tty_size,omitempty"`
}

// ExecResult is how the command ended.
type ExecResult struct {
	ExitCode int `json:"exit_code"`
}

// ExecOutput is a frame to the client: output, or the command's end.
type ExecOutput struct {
	Stdout *ExecData   `json:"stdout,omitempty"`
	Stderr *ExecData   `json:"stderr,omitempty"`
	Exited bool        `json:"exited,omitempty"`
	Result *ExecResult `json:"result,omitempty"`
}
