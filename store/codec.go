package store

import (
	"bytes"
	"encoding/json"
	"time"

	"cpimgw/cpim"
)

// The on-disk records of schema version 1, encoded with encoding/json.
// They are separate from the public types so that renaming a Go field
// cannot silently change the file format: a change here that an older
// gateway could not read needs a new schema version (see Bolt). Optional
// fields are omitted when zero; times are RFC 3339 with nanoseconds, UTC.

// authRecord is the value of an authorization, bucket "auths".
type authRecord struct {
	Direction Direction `json:"dir"`
	Watcher   string    `json:"watcher"`
	Target    string    `json:"target"`
	State     AuthState `json:"state"`
	Updated   time.Time `json:"updated,omitzero"`
}

// dialogRecord is the value of a dialog, bucket "dialogs".
type dialogRecord struct {
	ID         string    `json:"id"`
	Role       Role      `json:"role"`
	Watcher    string    `json:"watcher,omitempty"`
	Target     string    `json:"target,omitempty"`
	CallID     string    `json:"call_id,omitempty"`
	LocalTag   string    `json:"local_tag,omitempty"`
	RemoteTag  string    `json:"remote_tag,omitempty"`
	LocalURI   string    `json:"local_uri,omitempty"`
	RemoteURI  string    `json:"remote_uri,omitempty"`
	RouteSet   []string  `json:"route_set,omitempty"`
	Contact    string    `json:"contact,omitempty"`
	LocalCSeq  uint32    `json:"local_cseq,omitempty"`
	RemoteCSeq uint32    `json:"remote_cseq,omitempty"`
	State      string    `json:"state,omitempty"`
	Expires    time.Time `json:"expires,omitzero"`
	Event      string    `json:"event,omitempty"`
	EventID    string    `json:"event_id,omitempty"`
	Accept     []string  `json:"accept,omitempty"`
	Transport  string    `json:"transport,omitempty"`
	Source     string    `json:"source,omitempty"`
}

// presenceRecord is the value of an entity's last presence, bucket
// "presence".
type presenceRecord struct {
	Entity  addressRecord `json:"entity,omitzero"`
	Watcher addressRecord `json:"watcher,omitzero"`
	Lang    string        `json:"lang,omitempty"`
	Tuples  []tupleRecord `json:"tuples,omitempty"`
}

type addressRecord struct {
	Local    string `json:"local,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Resource string `json:"resource,omitempty"`
	Original string `json:"original,omitempty"`
}

type tupleRecord struct {
	Resource    string       `json:"resource,omitempty"`
	Basic       string       `json:"basic,omitempty"`
	Show        string       `json:"show,omitempty"`
	Notes       []textRecord `json:"notes,omitempty"`
	Priority    int          `json:"priority,omitempty"`
	HasPriority bool         `json:"has_priority,omitempty"`
	Timestamp   time.Time    `json:"timestamp,omitzero"`
}

type textRecord struct {
	Lang string `json:"lang,omitempty"`
	Text string `json:"text"`
}

// marshal is json.Marshal without the escaping of <, > and & for HTML,
// which would triple their size in every URI of a dialog.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func encodeAuth(a Auth) ([]byte, error) {
	a = normAuth(a)
	return marshal(authRecord(a))
}

func decodeAuth(b []byte) (Auth, error) {
	var r authRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Auth{}, err
	}
	return normAuth(Auth(r)), nil
}

func encodeDialog(d Dialog) ([]byte, error) {
	d = normDialog(d)
	return marshal(dialogRecord{
		ID: d.ID, Role: d.Role, Watcher: d.Watcher, Target: d.Target,
		CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
		LocalURI: d.LocalURI, RemoteURI: d.RemoteURI,
		RouteSet: d.RouteSet, Contact: d.Contact,
		LocalCSeq: d.LocalCSeq, RemoteCSeq: d.RemoteCSeq,
		State: string(d.State), Expires: d.Expires,
		Event: d.Event, EventID: d.EventID, Accept: d.Accept,
		Transport: d.Transport, Source: d.Source,
	})
}

func decodeDialog(b []byte) (Dialog, error) {
	var r dialogRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Dialog{}, err
	}
	return normDialog(Dialog{
		ID: r.ID, Role: r.Role, Watcher: r.Watcher, Target: r.Target,
		CallID: r.CallID, LocalTag: r.LocalTag, RemoteTag: r.RemoteTag,
		LocalURI: r.LocalURI, RemoteURI: r.RemoteURI,
		RouteSet: r.RouteSet, Contact: r.Contact,
		LocalCSeq: r.LocalCSeq, RemoteCSeq: r.RemoteCSeq,
		State: cpim.SubState(r.State), Expires: r.Expires,
		Event: r.Event, EventID: r.EventID, Accept: r.Accept,
		Transport: r.Transport, Source: r.Source,
	}), nil
}

func encodePresence(p cpim.Presence) ([]byte, error) {
	p = normPresence(p)
	r := presenceRecord{
		Entity:  addressRecord(p.Entity),
		Watcher: addressRecord(p.Watcher),
		Lang:    p.Lang,
	}
	if len(p.Tuples) > 0 {
		r.Tuples = make([]tupleRecord, len(p.Tuples))
	}
	for i, t := range p.Tuples {
		tr := tupleRecord{
			Resource: t.Resource, Basic: string(t.Basic), Show: string(t.Show),
			Priority: t.Priority, HasPriority: t.HasPriority, Timestamp: t.Timestamp,
		}
		for _, n := range t.Notes {
			tr.Notes = append(tr.Notes, textRecord(n))
		}
		r.Tuples[i] = tr
	}
	return marshal(r)
}

func decodePresence(b []byte) (cpim.Presence, error) {
	var r presenceRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return cpim.Presence{}, err
	}
	p := cpim.Presence{
		Entity:  cpim.Address(r.Entity),
		Watcher: cpim.Address(r.Watcher),
		Lang:    r.Lang,
	}
	if len(r.Tuples) > 0 {
		p.Tuples = make([]cpim.Tuple, len(r.Tuples))
	}
	for i, tr := range r.Tuples {
		t := cpim.Tuple{
			Resource: tr.Resource, Basic: cpim.Basic(tr.Basic), Show: cpim.Show(tr.Show),
			Priority: tr.Priority, HasPriority: tr.HasPriority, Timestamp: tr.Timestamp,
		}
		for _, n := range tr.Notes {
			t.Notes = append(t.Notes, cpim.Text(n))
		}
		p.Tuples[i] = t
	}
	return normPresence(p), nil
}
