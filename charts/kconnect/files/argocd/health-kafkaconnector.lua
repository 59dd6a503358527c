-- Argo CD health check for kconnect.io/KafkaConnector (resource.customizations.health.kconnect.io_KafkaConnector).
-- Reads what the kconnect operator writes: status.observedGeneration and the Ready condition.
local hs = {}
local degraded = {
  ConnectorFailed = true, TaskFailed = true, InvalidConfig = true, ApplyFailed = true,
  WorkerFailed = true, KafkaAuthenticationFailed = true, TokenEndpointUnreachable = true,
  KafkaTlsFailed = true, KafkaAuthorizationFailed = true, KafkaSecretMissing = true,
  ClusterNotFound = true,
}
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the kconnect operator to report a status"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the kconnect operator to observe generation " .. tostring(generation)
  return hs
end
local ready = nil
for _, condition in ipairs(obj.status.conditions or {}) do
  if condition.type == "Ready" then
    ready = condition
  end
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
local message = ready.message or ""
if ready.status == "True" then
  if ready.reason == "Paused" or ready.reason == "Stopped" or ready.reason == "ScaledToZero" then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
elseif degraded[ready.reason] then
  hs.status = "Degraded"
else
  -- Pending, WorkersNotReady: a roll, a rebalance, a scaling, a state change or a start under way.
  hs.status = "Progressing"
end
hs.message = (ready.reason or "") .. ": " .. message
return hs
