import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isQuantity, quantityValue } from '../../charts/quantity';
import { slotsToMove } from '../../charts/change-summary';

describe('Kubernetes quantities', () => {
  it('reads binary, decimal and exponent suffixes', () => {
    assert.equal(quantityValue('20Gi'), 20 * 2 ** 30);
    assert.equal(quantityValue('500Mi'), 500 * 2 ** 20);
    assert.equal(quantityValue('500m'), 0.5);
    assert.equal(quantityValue('1.5G'), 1.5e9);
    assert.equal(quantityValue('1e3'), 1000);
    assert.equal(quantityValue('2'), 2);
  });

  it('rejects what the API server rejects', () => {
    for (const bad of ['20 gigs', '20GB', 'Gi', '', ' 1Gi', '1Gi ', '-1', '1.2.3', '1iB']) assert.equal(isQuantity(bad), false, bad);
  });

  it('accepts every integer with a binary suffix', () => {
    fc.assert(fc.property(fc.nat(1_000_000), fc.constantFrom('Ki', 'Mi', 'Gi', 'Ti'), (n, suffix) => isQuantity(`${n}${suffix}`)));
  });
});

describe('slotsToMove', () => {
  it('is the share of slots the added or removed masters hold', () => {
    assert.equal(slotsToMove(3, 4), 4096);
    assert.equal(slotsToMove(4, 3), 4096);
    assert.equal(slotsToMove(3, 6), 8192);
    assert.equal(slotsToMove(5, 5), 0);
  });
});
