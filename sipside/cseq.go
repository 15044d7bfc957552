package sipside

import (
	"container/list"
	"sync"
)

// cseqTable hands out CSeq numbers for requests whose Call-ID may be reused
// (a Call-ID derived from an XMPP <thread/>, RFC 7572 §4): the numbers for
// one Call-ID strictly increase, so that two MESSAGEs of a thread never look
// like one request merged by a proxy (RFC 3261 §8.1.1.5, §8.2.2.2; MSG-27).
//
// The table holds at most size Call-IDs, dropping the least recently used.
// A Call-ID seen again after it was dropped starts above every number ever
// dropped, so its numbers still increase.
type cseqTable struct {
	mu    sync.Mutex
	size  int
	m     map[string]*list.Element
	lru   *list.List // of *cseqEntry, most recent at the front
	floor uint32     // highest number of a dropped entry
}

type cseqEntry struct {
	callID string
	last   uint32
}

// maxCSeq keeps CSeq below 2**31 (RFC 3261 §8.1.1.5).
const maxCSeq = 1<<31 - 1

func newCSeqTable(size int) *cseqTable {
	return &cseqTable{size: size, m: map[string]*list.Element{}, lru: list.New()}
}

// next returns the next CSeq number for callID.
func (t *cseqTable) next(callID string) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[callID]; ok {
		e := el.Value.(*cseqEntry)
		e.last = bump(e.last)
		t.lru.MoveToFront(el)
		return e.last
	}
	e := &cseqEntry{callID: callID, last: bump(t.floor)}
	t.m[callID] = t.lru.PushFront(e)
	for t.lru.Len() > t.size {
		old := t.lru.Remove(t.lru.Back()).(*cseqEntry)
		delete(t.m, old.callID)
		t.floor = max(t.floor, old.last)
	}
	return e.last
}

// observe records that a request with callID went out with number n (a
// digest retry increments CSeq itself, RFC 3261 §22.2).
func (t *cseqTable) observe(callID string, n uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[callID]; ok {
		e := el.Value.(*cseqEntry)
		e.last = max(e.last, n)
		return
	}
	t.floor = max(t.floor, n)
}

// bump returns n+1, wrapping to 1 above the CSeq range.
func bump(n uint32) uint32 {
	if n >= maxCSeq {
		return 1
	}
	return n + 1
}
