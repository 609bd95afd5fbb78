package report

import (
	"bytes"
	_ "embed"
	"html/template"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"evidence": func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		return string(b)
	},
	"gateTitle": func(g Gate) string { return g.Title() },
}).Parse(htmlSource))

// htmlView groups the results by gate for the template.
type htmlView struct {
	*Report
	ByGate []gateView
}

type gateView struct {
	Gate    Gate
	Results []Result
}

// HTML renders the report as one self-contained HTML page (no scripts,
// no external resources); every value is escaped by html/template.
func (r *Report) HTML() ([]byte, error) {
	v := htmlView{Report: r}
	for _, g := range Gates {
		gv := gateView{Gate: g}
		for _, res := range r.Results {
			if res.Gate == g {
				gv.Results = append(gv.Results, res)
			}
		}
		if len(gv.Results) > 0 {
			v.ByGate = append(v.ByGate, gv)
		}
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
