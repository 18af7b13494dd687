import { MemoryStorage } from '../../../server/storage/memory';
import { runStorageConformance } from '../../conformance/storage';

runStorageConformance('memory', () => new MemoryStorage());

describe('MemoryStorage event ring', () => {
  it('drops the oldest events past its capacity and keeps cursors working', () => {
    const store = new MemoryStorage({ eventCapacity: 3 });
    for (let i = 0; i < 5; i++) store.appendEvent({ at: 1000 + i, type: 't', from: 'device', to: 'mdm', summary: `e${i}` });
    expect(store.queryEvents().map((e) => e.summary)).toEqual(['e2', 'e3', 'e4']);
    expect(store.queryEvents({ afterId: 1 }).map((e) => e.id)).toEqual([3, 4, 5]);
    expect(store.queryEvents({ afterId: 4 }).map((e) => e.id)).toEqual([5]);
    expect(store.queryEvents({ since: 1003 }).map((e) => e.id)).toEqual([4, 5]);
    expect(store.queryEvents({ afterId: 5 })).toEqual([]);
  });
});
