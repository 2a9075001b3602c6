package coverage

import (
	"embed"
	"net/http"
)

// webFiles is the map page: plain HTML and JavaScript, no map library and
// no external tile server, so it works offline.
//
//go:embed web/map.html web/map.js
var webFiles embed.FS

func serveMapPage(w http.ResponseWriter, r *http.Request) {
	b, _ := webFiles.ReadFile("web/map.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func serveMapFile(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("file") != "map.js" {
		http.NotFound(w, r)
		return
	}
	b, _ := webFiles.ReadFile("web/map.js")
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
