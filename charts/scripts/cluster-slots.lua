#!lua flags=no-writes,allow-stale
-- Run by the redis_exporter sidecar at every scrape (--script): what CLUSTER INFO does not say about this
-- node's slots, read from its own line of CLUSTER NODES. The exporter publishes each pair as
-- redis_script_values{key="..."}.
--   cluster_owned_slots      slots this node serves (0 on a replica)
--   cluster_slots_migrating  slots open on this node as the source of a migration ([slot->-target])
--   cluster_slots_importing  slots open on this node as the target of a migration ([slot-<-source])
--   cluster_open_slot_lowest the lowest open slot, -1 when none: it stays put when a migration is stuck
local owned, migrating, importing, lowest = 0, 0, 0, -1
for line in string.gmatch(redis.call('CLUSTER', 'NODES'), '[^\n]+') do
  local fields = {}
  for field in string.gmatch(line, '%S+') do fields[#fields + 1] = field end
  if fields[3] ~= nil and string.find(fields[3], 'myself', 1, true) then
    for index = 9, #fields do
      local field = fields[index]
      local open, direction = string.match(field, '^%[(%d+)%-([<>])%-')
      if open ~= nil then
        if direction == '>' then migrating = migrating + 1 else importing = importing + 1 end
        if lowest < 0 or tonumber(open) < lowest then lowest = tonumber(open) end
      else
        local first, last = string.match(field, '^(%d+)%-(%d+)$')
        if first ~= nil then
          owned = owned + tonumber(last) - tonumber(first) + 1
        elseif string.match(field, '^%d+$') then
          owned = owned + 1
        end
      end
    end
  end
end
return {
  'cluster_owned_slots', tostring(owned),
  'cluster_slots_migrating', tostring(migrating),
  'cluster_slots_importing', tostring(importing),
  'cluster_open_slot_lowest', tostring(lowest),
}
