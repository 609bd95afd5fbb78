// Command echo is a test connector of package registry: discover()
// answers with the manifest embedded in the module itself.
//
// placeholder.txt is a fixed-size block the registry tests overwrite in
// the built .wasm with a connector.json padded with spaces to the same
// length (see registry's patchEcho). One build thus serves every
// manifest variant the versioning tests need, and every variant is a
// distinct module with its own digest, as a partner's rebuild would be.
// The connector supports no export but discover.
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

//go:embed placeholder.txt
var placeholder string

func init() { sdk.Register(sdk.Connector{Discover: discover}) }

func discover(*sdk.Host) (protocol.DiscoverResponse, error) {
	doc := strings.TrimRight(placeholder, " ")
	if !strings.HasPrefix(doc, "{") { // still the placeholder
		return protocol.DiscoverResponse{}, errors.New("echo: the module was not patched with a manifest")
	}
	var m protocol.Manifest
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return protocol.DiscoverResponse{}, err
	}
	return protocol.DiscoverResponse{
		ID: m.ID, Version: m.Version, Types: m.Types, Scopes: m.Scopes, Streams: m.Streams,
		ObjectTypes: m.ObjectTypes, EdgeTypes: m.EdgeTypes, Actions: m.Actions, Checks: m.Checks,
	}, nil
}

func main() {}
