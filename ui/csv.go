package ui

import (
	"encoding/csv"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v5"
)

// wantsCSV tells a request for a table as CSV (?format=csv).
func wantsCSV(c *echo.Context) bool { return c.QueryParam("format") == "csv" }

// writeCSV answers a table as CSV, for a spreadsheet or a script: a header of the columns,
// then the rows, named after the page.
func writeCSV(c *echo.Context, name string, columns []string, rows [][]string) error {
	w := c.Response()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return err
	}
	cell := make([]string, 0, len(columns))
	for _, r := range rows {
		cell = cell[:0]
		for _, v := range r {
			cell = append(cell, spreadsheetSafe(v))
		}
		if err := cw.Write(cell); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// spreadsheetSafe keeps a value a spreadsheet would run as a formula (=, +, @, or - not
// starting a number: a label value is anyone's to set) from running, with a leading quote, as
// OWASP advises against CSV injection.
func spreadsheetSafe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '@', '\t', '\r':
		return "'" + v
	case '-':
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "'" + v
		}
	}
	return v
}
