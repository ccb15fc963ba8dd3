-- wrk script for bench/write_path.py: every request a new payment with a unique voucher.
-- Environment: WRK_PATH, WRK_AUTH, WRK_BODY (a JSON template: {n} a unique number, {p} one
-- of WRK_PROJECTS in turn).
local counter = 0
local next_thread = 0

function setup(thread)
  -- Each wrk thread has its own Lua state; this sets the global `thread_id` in it.
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  path = os.getenv("WRK_PATH")
  template = os.getenv("WRK_BODY")
  headers = {["Content-Type"] = "application/json"}
  projects = {}
  for id in string.gmatch(os.getenv("WRK_PROJECTS") or "0", "[^,]+") do table.insert(projects, id) end
  local auth = os.getenv("WRK_AUTH")
  if auth and auth ~= "" then headers["Authorization"] = auth end
end

function request()
  counter = counter + 1
  local body = string.gsub(template, "{n}", thread_id .. "-" .. counter)
  body = string.gsub(body, "{p}", projects[(counter % #projects) + 1])
  return wrk.format("POST", path, headers, body)
end
