// BoundedTable: a hash table with a hard capacity that evicts its least-recently-used entry.
//
// The detector keeps one entry per remote source and one per attempt awaiting a reply. Remote
// addresses are chosen by whoever sends us packets, spoofed ones included, so every such table
// must have a bound that no input can exceed: inserting into a full table first evicts the entry
// that was touched longest ago (the caller sees it go through a callback, to close its alert).
//
// Layout: a slab of `capacity` nodes (reserved up front, so pointers to values stay valid until
// the entry is erased or evicted; memory is committed only as nodes are first used) chained in a
// doubly linked recency list, and an open-addressing index (linear probing, backward-shift
// deletion) of twice the capacity rounded up to a power of two. No allocation after warm-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace gh::detect {

template <class Key, class Value, class Hash>
class BoundedTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  explicit BoundedTable(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {
    size_t n = 4;
    while (n < capacity_ * 2) n <<= 1;
    index_.assign(n, kNone);
    mask_ = n - 1;
    nodes_.reserve(capacity_);
  }
  BoundedTable(const BoundedTable&) = delete;
  BoundedTable& operator=(const BoundedTable&) = delete;

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Bytes this table can ever hold, values' own heap allocations excluded.
  size_t max_bytes() const { return capacity_ * sizeof(Node) + index_.size() * sizeof(uint32_t); }

  Value* find(const Key& k) {
    uint32_t s = lookup(k);
    return s == kNone ? nullptr : &nodes_[s].value;
  }

  // Finds `k` or inserts a value-initialised entry for it; the entry becomes the most recent.
  // A full table first evicts its least recent entry, calling on_evict(key, value) before.
  // Returns the value and whether it was inserted.
  template <class OnEvict>
  std::pair<Value*, bool> find_or_insert(const Key& k, OnEvict&& on_evict) {
    uint32_t s = lookup(k);
    if (s != kNone) {
      move_to_front(s);
      return {&nodes_[s].value, false};
    }
    if (size_ == capacity_) {
      uint32_t victim = tail_;
      on_evict(static_cast<const Key&>(nodes_[victim].key), nodes_[victim].value);
      erase_slot(victim);
    }
    uint32_t slot;
    if (free_ != kNone) {
      slot = free_;
      free_ = nodes_[slot].next;
      nodes_[slot].key = k;
      nodes_[slot].value = Value{};
    } else {
      slot = static_cast<uint32_t>(nodes_.size());
      nodes_.push_back(Node{k, Value{}, kNone, kNone});
    }
    link_front(slot);
    index_insert(slot);
    ++size_;
    return {&nodes_[slot].value, true};
  }
  std::pair<Value*, bool> find_or_insert(const Key& k) {
    return find_or_insert(k, [](const Key&, Value&) {});
  }

  // Marks an entry (found through find()) as the most recently used.
  void touch(const Key& k) {
    uint32_t s = lookup(k);
    if (s != kNone) move_to_front(s);
  }

  bool erase(const Key& k) {
    uint32_t s = lookup(k);
    if (s == kNone) return false;
    erase_slot(s);
    return true;
  }

  // The least recently used entry, or nullptr when empty.
  const Key* oldest_key() const { return tail_ == kNone ? nullptr : &nodes_[tail_].key; }
  Value* oldest_value() { return tail_ == kNone ? nullptr : &nodes_[tail_].value; }

  // Visits entries from most to least recent. f(const Key&, Value&) must not modify the table.
  template <class F>
  void for_each(F&& f) {
    for (uint32_t s = head_; s != kNone; s = nodes_[s].next)
      f(static_cast<const Key&>(nodes_[s].key), nodes_[s].value);
  }

  void clear() {
    while (tail_ != kNone) erase_slot(tail_);
  }

 private:
  struct Node {
    Key key;
    Value value;
    uint32_t prev, next;  // recency list; `next` doubles as the free-list link
  };

  size_t home(const Key& k) const { return Hash{}(k)&mask_; }

  uint32_t lookup(const Key& k) const {
    for (size_t i = home(k);; i = (i + 1) & mask_) {
      uint32_t s = index_[i];
      if (s == kNone) return kNone;
      if (nodes_[s].key == k) return s;
    }
  }

  void index_insert(uint32_t slot) {
    size_t i = home(nodes_[slot].key);
    while (index_[i] != kNone) i = (i + 1) & mask_;
    index_[i] = slot;
  }

  void index_remove(uint32_t slot) {
    size_t i = home(nodes_[slot].key);
    while (index_[i] != slot) i = (i + 1) & mask_;
    // Backward-shift deletion: pull later members of the probe run into the hole when their home
    // position allows it, so lookups never need tombstones.
    size_t hole = i;
    for (size_t j = (hole + 1) & mask_; index_[j] != kNone; j = (j + 1) & mask_) {
      size_t h = home(nodes_[index_[j]].key);
      bool movable = hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
      if (movable) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = kNone;
  }

  void unlink(uint32_t s) {
    Node& n = nodes_[s];
    if (n.prev != kNone)
      nodes_[n.prev].next = n.next;
    else
      head_ = n.next;
    if (n.next != kNone)
      nodes_[n.next].prev = n.prev;
    else
      tail_ = n.prev;
  }
  void link_front(uint32_t s) {
    Node& n = nodes_[s];
    n.prev = kNone;
    n.next = head_;
    if (head_ != kNone) nodes_[head_].prev = s;
    head_ = s;
    if (tail_ == kNone) tail_ = s;
  }
  void move_to_front(uint32_t s) {
    if (head_ == s) return;
    unlink(s);
    link_front(s);
  }
  void erase_slot(uint32_t s) {
    index_remove(s);
    unlink(s);
    nodes_[s].value = Value{};  // release what the value holds now, not at reuse
    nodes_[s].next = free_;
    free_ = s;
    --size_;
  }

  size_t capacity_;
  size_t mask_ = 0;
  size_t size_ = 0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> index_;
  uint32_t head_ = kNone, tail_ = kNone, free_ = kNone;
};

}  // namespace gh::detect
