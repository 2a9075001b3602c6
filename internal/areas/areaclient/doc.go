// Package areaclient is the client side of area imports: streaming readers
// of GeoJSON boundary files and CSV attribute files that report every bad
// feature or row by its number before anything is sent, and the uploader
// that streams them to the AreaService. The CLI (sparc import areas), the
// demo loader and the benchmark use it; the server never does.
package areaclient
