-- The rendered configuration (set once in init_by_lua from the JSON the operator rendered).
local _M = { cfg = {} }

function _M.set(cfg)
  _M.cfg = cfg
end

function _M.get()
  return _M.cfg
end

return _M
