package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// Start a sandbox on loopback and read the first user of seed 1 the way a
// connector would: bearer credential, first page, cursor for the next.
func Example() {
	s := sandbox.New(sandbox.Config{Users: 100, Seed: 1})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/users?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var page sandbox.Page[json.RawMessage]
	if err := json.Unmarshal(body, &page); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status)
	fmt.Println(string(page.Data[0]))
	fmt.Println("has_more:", page.HasMore, "cursor:", page.NextCursor != "")
	// Output:
	// 200 OK
	// {"id":"u-0000001","email":"jean.lovelace1@example.test","name":"Jean Lovelace","department":"Finance","title":"Controller","status":"active","created_at":"2020-01-03T16:31:08Z","updated_at":"2020-02-10T12:56:06Z","mfa_enrolled":true,"is_admin":false,"last_login_at":"2024-04-21T10:15:00Z","phone":"+15125550168"}
	// has_more: true cursor: true
}
