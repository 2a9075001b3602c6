package assets

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	sparcv1 "github.com/sparc-network/sparc/gen/sparc/v1"
)

// writableFields are the top-level fields an update may set; an empty mask
// means all of them (a full replace).
var writableFields = []string{
	"kind", "name", "description", "categories", "location", "service_area_geojson", "sessions",
	"cost", "accessibility", "languages", "age_range", "contact", "capacity", "accepting_referrals",
	"status", "owner_organisation", "last_verified_time",
}

// outputOnly are the fields the server owns; update masks may name them
// and they are skipped.
var outputOnly = map[string]bool{"id": true, "etag": true, "create_time": true, "update_time": true}

// updatable holds every allowed mask path: the writable fields and the
// fields of their sub-messages ("location.postcode", "cost.note").
var updatable = func() map[string]bool {
	m := map[string]bool{}
	desc := (&sparcv1.Asset{}).ProtoReflect().Descriptor()
	for _, f := range writableFields {
		m[f] = true
		fd := desc.Fields().ByName(protoreflect.Name(f))
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && fd.Message().FullName() != "google.protobuf.Timestamp" {
			sub := fd.Message().Fields()
			for i := 0; i < sub.Len(); i++ {
				m[f+"."+string(sub.Get(i).Name())] = true
			}
		}
	}
	return m
}()

func updatablePaths() []string {
	out := make([]string, 0, len(writableFields))
	out = append(out, writableFields...)
	sort.Strings(out)
	return out
}

// applyMask copies the masked fields of src into dst. A masked field that
// is unset in src is cleared in dst, as AIP-134 specifies.
func applyMask(dst, src *sparcv1.Asset, mask *fieldmaskpb.FieldMask) {
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, path := range mask.GetPaths() {
		parts := strings.SplitN(path, ".", 2)
		fd := d.Descriptor().Fields().ByName(protoreflect.Name(parts[0]))
		if len(parts) == 1 {
			if s.Has(fd) {
				d.Set(fd, cloneValue(s.Get(fd), fd))
			} else {
				d.Clear(fd)
			}
			continue
		}
		// Sub-field: make sure the parent exists in dst, then copy one field.
		dm := d.Mutable(fd).Message()
		sub := dm.Descriptor().Fields().ByName(protoreflect.Name(parts[1]))
		if s.Has(fd) && s.Get(fd).Message().Has(sub) {
			dm.Set(sub, cloneValue(s.Get(fd).Message().Get(sub), sub))
		} else {
			dm.Clear(sub)
		}
	}
}

func cloneValue(v protoreflect.Value, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch {
	case fd.IsList():
		// Lists are copied element-wise into a fresh list by Set's caller;
		// sharing the source list is safe because src is never reused.
		return v
	case fd.Kind() == protoreflect.MessageKind:
		return protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect())
	}
	return v
}
