package aip

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sparc-network/sparc/internal/apierr"
)

// Fields describes what an update of one resource type may change: its
// writable top-level fields and, for each singular sub-message among them,
// that message's fields ("location.postcode"). Build it once per resource
// type, at package initialisation.
type Fields struct {
	writable   []string
	updatable  map[string]bool
	outputOnly map[string]bool
}

// NewFields describes resource (any message of the type) with the given
// writable fields; outputOnly names the fields the server owns, which a
// mask may name and which are then skipped: an HTTP client PATCHing back
// the document it read sends them (AIP-203). Fields the proto marks
// OUTPUT_ONLY (google.api.field_behavior) are among them without being
// named, so a field added later cannot break that round trip. It panics
// on a field the message lacks, a programming error found by any test.
func NewFields(resource proto.Message, writable []string, outputOnly ...string) *Fields {
	f := &Fields{writable: writable, updatable: map[string]bool{}, outputOnly: map[string]bool{}}
	desc := resource.ProtoReflect().Descriptor()
	for i := 0; i < desc.Fields().Len(); i++ {
		fd := desc.Fields().Get(i)
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY) {
			f.outputOnly[string(fd.Name())] = true
		}
	}
	for _, name := range outputOnly {
		if desc.Fields().ByName(protoreflect.Name(name)) == nil {
			panic(fmt.Sprintf("aip: %s has no field %q", desc.FullName(), name))
		}
		f.outputOnly[name] = true
	}
	for _, name := range writable {
		fd := desc.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			panic(fmt.Sprintf("aip: %s has no field %q", desc.FullName(), name))
		}
		f.updatable[name] = true
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() && fd.Message().FullName() != "google.protobuf.Timestamp" {
			sub := fd.Message().Fields()
			for i := 0; i < sub.Len(); i++ {
				f.updatable[name+"."+string(sub.Get(i).Name())] = true
			}
		}
	}
	return f
}

// Mask is a checked update mask: the paths an update changes.
type Mask struct{ paths []string }

// Parse checks the update mask of a request whose resource is src, after
// AIP-134:
//
//   - paths given: those fields are changed (output-only ones skipped);
//     a path the resource cannot update is a violation naming the ones
//     it can;
//   - "*" alone: full replacement, every writable field, so a field left
//     unset in src is cleared;
//   - no mask: the fields src sets, so a partial document changes only
//     what it carries.
//
// Violations are reported under field (normally "update_mask").
func (f *Fields) Parse(v *apierr.InvalidArgument, field string, m *fieldmaskpb.FieldMask, src proto.Message) Mask {
	paths := m.GetPaths()
	switch {
	case len(paths) == 0:
		return Mask{paths: f.populated(src)}
	case slices.Contains(paths, "*"):
		if len(paths) > 1 {
			v.Add(field+".paths", "\"*\" replaces the whole resource and cannot be combined with other paths")
		}
		return Mask{paths: slices.Clone(f.writable)}
	}
	kept := make([]string, 0, len(paths))
	for i, p := range paths {
		switch {
		case f.outputOnly[p]:
		case !f.updatable[p]:
			v.Add(fmt.Sprintf("%s.paths[%d]", field, i), "%q is not an updatable field (one of: %s, or * for all)", apierr.Clip(p, 80), strings.Join(f.sortedWritable(), ", "))
		case !slices.Contains(kept, p):
			kept = append(kept, p)
		}
	}
	return Mask{paths: kept}
}

func (f *Fields) populated(src proto.Message) []string {
	r := src.ProtoReflect()
	var out []string
	for _, name := range f.writable {
		fd := r.Descriptor().Fields().ByName(protoreflect.Name(name))
		if r.Has(fd) {
			out = append(out, name)
		}
	}
	return out
}

func (f *Fields) sortedWritable() []string {
	out := slices.Clone(f.writable)
	slices.Sort(out)
	return out
}

// Paths returns the mask's paths.
func (m Mask) Paths() []string { return m.paths }

// Empty reports whether the update changes nothing.
func (m Mask) Empty() bool { return len(m.paths) == 0 }

// Has reports whether the update changes path, wholly or in part
// ("location" is touched by "location" and by "location.postcode").
func (m Mask) Has(path string) bool {
	for _, p := range m.paths {
		if p == path || strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// Apply copies the masked fields of src into dst, both of the resource's
// type. A masked field unset in src is cleared in dst, as AIP-134 says.
func (m Mask) Apply(dst, src proto.Message) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, path := range m.paths {
		top, sub, nested := strings.Cut(path, ".")
		fd := d.Descriptor().Fields().ByName(protoreflect.Name(top))
		if !nested {
			if s.Has(fd) {
				d.Set(fd, cloneValue(s.Get(fd), fd))
			} else {
				d.Clear(fd)
			}
			continue
		}
		// A sub-field: make sure the parent exists in dst, then copy one
		// field of it.
		dm := d.Mutable(fd).Message()
		sfd := dm.Descriptor().Fields().ByName(protoreflect.Name(sub))
		if s.Has(fd) && s.Get(fd).Message().Has(sfd) {
			dm.Set(sfd, cloneValue(s.Get(fd).Message().Get(sfd), sfd))
		} else {
			dm.Clear(sfd)
		}
	}
}

func cloneValue(v protoreflect.Value, fd protoreflect.FieldDescriptor) protoreflect.Value {
	if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() {
		return protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect())
	}
	// Lists and maps are shared with src, which the handler drops after
	// the update.
	return v
}
