package collector

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/strata-obs/strata/internal/safefile"
)

// containerStorage reads what podman records in containers/storage of the containers runc or
// crun run for it: podman's API service is off by default, and without it a container found
// in the cgroups would have no name or image. The runtime's state names the container's
// bundle, <graphroot>/<driver>-containers/<id>/userdata; beside it, containers.json holds
// the container's names and image, and <driver>-images/images.json and the image's own
// configuration hold the image's names, digest and creation time. CRI-O keeps its bundles
// under its run root instead, so the default graph root is tried too.
type containerStorage struct {
	rootfs string
	logger *slog.Logger
	mu     sync.Mutex
	files  map[string]*storageFile // containers.json or images.json → parsed, while unchanged
	built  map[string]time.Time    // image configuration path → its creation time (content-addressed)
	// known is what was found of each running container: a container's name and image do not
	// change while it runs, so a scrape reads no file for it again.
	known map[string]containerMeta
}

// storageFile is one parsed record file and what it was when parsed.
type storageFile struct {
	size    int64
	modTime time.Time
	records map[string]storageRecord // by id
}

// storageRecord is a container's or an image's record in containers/storage.
type storageRecord struct {
	ID       string    `json:"id"`
	Names    []string  `json:"names"`
	Image    string    `json:"image"`    // a container's image id
	Digest   string    `json:"digest"`   // an image's manifest digest
	Metadata string    `json:"metadata"` // a container's: JSON of podman's own (image-name)
	Created  time.Time `json:"created"`
}

// Bounds of what is read: a record file holds one record of a few hundred bytes per
// container or image, an image configuration a few kilobytes.
const (
	maxStorageRecords = 64 << 20
	maxImageConfig    = 1 << 20
	maxBuiltKept      = 4096 // images whose creation time is kept
	maxStorageFiles   = 16   // record files kept parsed: two per graph root
)

// defaultGraphRoot is containers/storage's graph root when storage.conf is left as shipped.
const defaultGraphRoot = "/var/lib/containers/storage"

var (
	storageID        = regexp.MustCompile(`^[0-9a-f]{64}$`)
	storageDriverDir = regexp.MustCompile(`^([a-z0-9]+)-containers$`)
)

func newContainerStorage(rootfs string, logger *slog.Logger) *containerStorage {
	return &containerStorage{rootfs: rootfs, logger: logger, files: map[string]*storageFile{}, built: map[string]time.Time{},
		known: map[string]containerMeta{}}
}

// keep forgets the containers not among running.
func (s *containerStorage) keep(running []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.known) == 0 {
		return
	}
	alive := make(map[string]bool, len(running))
	for _, id := range running {
		alive[id] = true
	}
	for id := range s.known {
		if !alive[id] {
			delete(s.known, id)
		}
	}
}

// lookup is what containers/storage records of the container with that id, run from that
// bundle (a path on the host); false when the bundle is none of containers/storage's or no
// record of the container is found.
func (s *containerStorage) lookup(id, bundle string) (containerMeta, bool) {
	if !storageID.MatchString(id) || filepath.Base(bundle) != "userdata" || filepath.Base(filepath.Dir(bundle)) != id {
		return containerMeta{}, false
	}
	containers := filepath.Dir(filepath.Dir(bundle))
	m := storageDriverDir.FindStringSubmatch(filepath.Base(containers))
	if m == nil {
		return containerMeta{}, false
	}
	driver := m[1]
	s.mu.Lock()
	defer s.mu.Unlock()
	if meta, ok := s.known[id]; ok {
		return meta, true
	}
	for _, graphRoot := range []string{filepath.Dir(containers), defaultGraphRoot} {
		c, ok := s.record(filepath.Join(graphRoot, driver+"-containers", "containers.json"), id)
		if !ok {
			continue
		}
		meta := containerMeta{}
		if len(c.Names) > 0 {
			meta.Name = c.Names[0]
		}
		var podman struct {
			ImageName string `json:"image-name"`
		}
		if json.Unmarshal([]byte(c.Metadata), &podman) == nil {
			meta.Image = podman.ImageName
		}
		if storageID.MatchString(c.Image) {
			meta.ImageID = "sha256:" + c.Image // the form of the Docker Engine API's and CRI's ids
			images := filepath.Join(graphRoot, driver+"-images")
			if img, ok := s.record(filepath.Join(images, "images.json"), c.Image); ok {
				if meta.Image == "" && len(img.Names) > 0 {
					meta.Image = img.Names[0]
				}
				meta.ImageCreated = s.imageCreated(filepath.Join(images, c.Image), c.Image, img.Created)
			}
		}
		if meta.Image != "" && !meta.ImageCreated.IsZero() { // whole: asked again until it is
			s.known[id] = meta
		}
		return meta, true
	}
	return containerMeta{}, false
}

// record is the record with that id in the record file at path (on the host), parsed again
// only when the file changed.
func (s *containerStorage) record(path, id string) (storageRecord, bool) {
	full := filepath.Join(s.rootfs, path)
	st, err := os.Stat(full)
	if err != nil {
		return storageRecord{}, false
	}
	f := s.files[full]
	if f == nil || f.size != st.Size() || !f.modTime.Equal(st.ModTime()) {
		if f == nil && len(s.files) >= maxStorageFiles {
			clear(s.files) // graph roots come and go: keep the few in use
		}
		f = &storageFile{size: st.Size(), modTime: st.ModTime()}
		if f.records, err = readStorageRecords(full); err != nil && s.logger != nil {
			s.logger.Warn("containers/storage records unreadable; its containers keep no name or image", "err", err)
		}
		s.files[full] = f
	}
	r, ok := f.records[id]
	return r, ok
}

// readStorageRecords reads a containers.json or images.json; its errors name the file, never
// its content.
func readStorageRecords(path string) (map[string]storageRecord, error) {
	b, err := safefile.ReadFile(path, maxStorageRecords)
	if err != nil {
		return nil, err
	}
	var list []storageRecord
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s: not a containers/storage record file", path)
	}
	out := make(map[string]storageRecord, len(list))
	for _, r := range list {
		out[r.ID] = r
	}
	return out, nil
}

// imageCreated is when the image was built: its configuration's created, kept by
// containers/storage under the name "=" + base64 of its digest, "sha256:<id>"; else the
// image record's own.
func (s *containerStorage) imageCreated(dir, id string, recorded time.Time) time.Time {
	path := filepath.Join(s.rootfs, dir, "="+base64.StdEncoding.EncodeToString([]byte("sha256:"+id)))
	if t, ok := s.built[path]; ok {
		return t
	}
	var config struct {
		Created time.Time `json:"created"`
	}
	t := recorded
	if b, err := safefile.ReadFile(path, maxImageConfig); err == nil && json.Unmarshal(b, &config) == nil && !config.Created.IsZero() {
		t = config.Created
		if len(s.built) >= maxBuiltKept {
			clear(s.built)
		}
		s.built[path] = t // a configuration never changes: its name is its digest
	}
	return t
}
